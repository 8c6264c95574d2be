// SandboxTransport: upstream.sandbox. The same pipeline as SmtpTransport up
// to the wire: instead of connecting, every outgoing message is written to
// DIR/<message-id>-<n>.eml, headed by the account it would have used:
//   X-Relaypool-Account: <account>
//   X-Relaypool-Mail-From: <MAIL FROM as it would go upstream>
//   X-Relaypool-Rcpt-To: <recipient>      (one line per recipient)
// followed by the message exactly as the upstream would receive it
// (strip_headers and sender_rewrite applied by protocol::MessageFilter, no
// dot-stuffing).
//
// Invariants: a file appears complete or not at all (tmp + fsync + rename +
// directory fsync); <n> counts up from 1 and never overwrites an earlier
// file. File I/O runs on a private thread, never on the event loop; the
// awaiting coroutine resumes on its own executor. A write failure is an
// outcome (LocalFailure::protocol at the connect stage: backoff, no account
// blamed), never an exception. Used by relay/relay.cpp and tests.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "relay/transport.hpp"

namespace rp::relay {

struct SandboxOptions {
    std::string directory;
    std::vector<std::string> strip_headers;
    config::SenderRewrite sender_rewrite = config::SenderRewrite::envelope;
};

class SandboxTransport final : public Transport {
  public:
    explicit SandboxTransport(SandboxOptions options);
    ~SandboxTransport() override;

    boost::asio::awaitable<DeliveryReport> deliver(DeliveryRequest request) override;
    void shutdown() override;

    // Writes one message synchronously (what deliver() runs on its thread).
    // Returns the file written, or an error text.
    struct WriteResult {
        std::string path;
        std::string error;
    };
    WriteResult write(const DeliveryRequest& request) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::relay
