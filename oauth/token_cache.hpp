// Which access token a send uses, per account (SPEC.md "Delivery", XOAUTH2):
// the decisions of the token cache, without I/O, so a manual clock tests
// them. relay/oauth_tokens.* does the fetching and the waiting.
//
// Rules:
// - A token is used until `renew_at` (its lifetime minus the smaller of
//   renew_before and a quarter of the lifetime); from then on the next send
//   fetches a new one, and while that fetch runs (or when it fails
//   temporarily) the old token is still used until `valid_margin` (at most a
//   tenth of the lifetime) before it expires: a session must have time to
//   authenticate with it.
// - Single flight: at most one fetch per account; other sends for that
//   account wait for it (Action::wait) unless an old token is still valid.
// - A temporary failure backs the account's fetches off (5 s doubling to
//   5 min); sends fail at once meanwhile (the mail waits in the queue).
// - A refusal is remembered for `denial_memory` so the sends that waited
//   on that fetch do not each ask again; the pool disables the account.
// - drop() forgets a token the upstream refused (535 after XOAUTH2) so the
//   next send fetches a fresh one at once.
// Not thread-safe: used on the engine's thread.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "oauth/token_reply.hpp"

namespace rp::oauth {

struct TokenCacheOptions {
    std::chrono::seconds renew_before{300};
    std::chrono::seconds valid_margin{30};
    std::chrono::seconds backoff_initial{5};
    std::chrono::seconds backoff_max{300};
    std::chrono::seconds denial_memory{30};
};

class TokenCache {
  public:
    enum class Action {
        use,    // send with `token`
        fetch,  // fetch now, then complete(); `token` is a still-valid old one ("" if none)
        wait,   // another send is fetching: wait for its complete(), then ask again
        fail,   // no token: `failure` says why
    };
    struct Decision {
        Action action = Action::fail;
        std::string token;
        TokenReply failure;
    };

    explicit TokenCache(TokenCacheOptions options = {}) : options_(options) {}

    Decision acquire(const std::string& account, WallTime now);
    void complete(const std::string& account, const TokenReply& reply, WallTime now);
    void drop(const std::string& account, std::string_view token);

    // How old the account's current token is; nullopt without one.
    std::optional<std::chrono::seconds> age(const std::string& account, WallTime now) const;
    bool fetching(const std::string& account) const;

  private:
    struct Entry {
        std::string token;
        WallTime issued{}, renew_at{}, valid_until{};
        bool in_flight = false;
        unsigned failures = 0;
        WallTime retry_at{};  // temporary failure: no fetch before
        WallTime denied_until{};
        TokenReply last_failure;
    };
    bool valid(const Entry& e, WallTime now) const;

    TokenCacheOptions options_;
    std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace rp::oauth
