// TokenSource: XOAUTH2 access tokens for pool accounts that authenticate
// with a Google service account (SPEC.md "Delivery"). token() answers from
// oauth::TokenCache; when the cache says fetch, it signs a JWT with the
// account's service account key (impersonating the mailbox: sub = the
// account), exchanges it at the key's token_uri (https_post, verified like
// the upstream) and wakes the sends that waited for that fetch.
//
// Invariants: at most one fetch per account in flight; tokens and
// assertions are never logged; key files are read when first needed and
// again when their modification time changes (a rotated key needs no
// restart). A key file that cannot be read or parsed is a refusal (the
// account is disabled with the reason) -- retrying would not fix it.
// Not thread-safe: the engine's thread only. Used by relay/smtp_transport.cpp
// (token, drop) and relay/relay.cpp (make, publish). Asio in the .cpp only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "oauth/token_cache.hpp"
#include "oauth/token_reply.hpp"

namespace rp::metrics {
class Metrics;
}

namespace rp::relay {

struct TokenSourceOptions {
    std::string ca_file;  // upstream.ca_file: trusted besides the system CAs
    std::chrono::milliseconds timeout = std::chrono::seconds(30);
    oauth::TokenCacheOptions cache;
};

class TokenSource {
  public:
    // metrics may be null (tests).
    TokenSource(boost::asio::any_io_executor executor, const Clock& clock, TokenSourceOptions options,
                metrics::Metrics* metrics);
    ~TokenSource();
    TokenSource(const TokenSource&) = delete;
    TokenSource& operator=(const TokenSource&) = delete;

    // A token for `account` (which must have oauth2 set), or why not.
    boost::asio::awaitable<oauth::TokenReply> token(config::Account account);
    // The upstream refused `token` (535 after XOAUTH2): fetch afresh next time.
    void drop(const config::Account& account, const std::string& token);
    // Token ages into relaypool_oauth2_token_age_seconds.
    void publish(WallTime now);
    // Requests sent to token endpoints so far (tests, logs).
    std::uint64_t fetches() const;

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rp::relay
