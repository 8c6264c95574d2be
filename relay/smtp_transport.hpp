// SmtpTransport: the real upstream (smtp.gmail.com by default). A thin Asio
// coroutine driver around protocol::ClientSession: resolve, connect with a
// deadline, STARTTLS or implicit TLS (peer and host-name verification with the
// system CAs plus upstream.ca_file, SNI), EHLO, one AUTH, then messages
// streamed from the spool file in chunks (never the whole message in memory).
//
// Invariants:
// - Session reuse is per account: an authenticated session only ever carries
//   mail for the account it authenticated as, and never sends a second AUTH
//   (Gmail: 503 5.7.0 No identity changes permitted).
// - At most connections_per_account sessions per account are open (idle or
//   busy); a deliver() that finds none free waits for one.
// - A session carries at most messages_per_connection messages; it idles for
//   idle_keep after a message, then says QUIT. A session that saw a 421, a
//   local failure or a protocol error is closed, never reused.
// - An oauth2 account authenticates with AUTH XOAUTH2 and a token from the
//   TokenSource; a 535 to it drops that token and tries once more with a
//   fresh one. A token refusal is an auth-stage outcome that disables the
//   account; a token endpoint that is down is a temporary one.
// - deliver() never throws for network, TLS, protocol or spool-read failures:
//   they are outcomes (LocalFailure for the ones without an SMTP reply).
// - Not thread-safe: deliver() and shutdown() run on the executor given at
//   construction (the engine's single thread).
// Used by relay/ (the engine picks it when upstream.sandbox is not set) and
// its tests. Asio's SSL headers stay in the .cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "protocol/client_session.hpp"
#include "relay/transport.hpp"

namespace rp::relay {

struct SmtpTransportOptions {
    std::string host = "smtp.gmail.com";
    std::uint16_t port = 587;
    config::UpstreamTls tls = config::UpstreamTls::starttls;
    std::string ca_file;  // extra trusted CAs (PEM), besides the system's
    std::uint32_t connections_per_account = 2;
    std::uint32_t messages_per_connection = 50;
    std::string ehlo_hostname = "localhost";
    std::vector<std::string> strip_headers;
    bool rewrite_from_header = false;  // sender_rewrite: envelope+header
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);
    std::chrono::milliseconds idle_keep = std::chrono::seconds(5);  // idle session lifetime
    protocol::ClientTimeouts timeouts;                              // RFC 5321 4.5.3.2
    std::size_t body_chunk = 64 * 1024;                             // spool read size
    bool use_chunking = true;    // BDAT when the upstream offers CHUNKING (else DATA + dot-stuffing)
    bool use_pipelining = true;  // when the upstream offers PIPELINING

    static SmtpTransportOptions from_config(const config::Config& config);
};

// Counters for tests, logs and benchmarks.
struct SmtpTransportStats {
    std::uint64_t connections = 0;    // sessions opened (connect attempts)
    std::uint64_t reused = 0;         // messages sent on a session that had sent one before
    std::uint64_t retried_stale = 0;  // reused sessions found dead and replaced once
    std::uint64_t token_retries = 0;  // XOAUTH2 535s answered with a fresh token
    std::uint64_t open = 0;           // sessions open now (idle + busy)
    std::uint64_t idle = 0;           // idle sessions now
};

class TokenSource;

class SmtpTransport final : public Transport {
  public:
    // tokens: XOAUTH2 access tokens for accounts with oauth2; without a
    // source such an account fails with a refusal (the pool disables it).
    SmtpTransport(boost::asio::any_io_executor executor, SmtpTransportOptions options,
                  std::shared_ptr<TokenSource> tokens = nullptr);
    ~SmtpTransport() override;
    SmtpTransport(const SmtpTransport&) = delete;
    SmtpTransport& operator=(const SmtpTransport&) = delete;

    boost::asio::awaitable<DeliveryReport> deliver(DeliveryRequest request) override;
    void shutdown() override;

    SmtpTransportStats stats() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rp::relay
