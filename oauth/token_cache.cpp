// Token cache decisions (see token_cache.hpp).
#include "oauth/token_cache.hpp"

#include <algorithm>

namespace rp::oauth {

bool TokenCache::valid(const Entry& e, WallTime now) const {
    return !e.token.empty() && now < e.valid_until;
}

TokenCache::Decision TokenCache::acquire(const std::string& account, WallTime now) {
    Entry& e = entries_[account];
    const bool usable = valid(e, now);
    if (usable && now < e.renew_at) return {Action::use, e.token, {}};
    if (e.in_flight) return usable ? Decision{Action::use, e.token, {}} : Decision{Action::wait, "", {}};
    if (now < e.denied_until) return {Action::fail, "", e.last_failure};
    if (now < e.retry_at)
        return usable ? Decision{Action::use, e.token, {}} : Decision{Action::fail, "", e.last_failure};
    e.in_flight = true;
    return {Action::fetch, usable ? e.token : "", {}};
}

void TokenCache::complete(const std::string& account, const TokenReply& reply, WallTime now) {
    Entry& e = entries_[account];
    e.in_flight = false;
    switch (reply.failure) {
        case TokenFailure::none: {
            e.token = reply.access_token;
            e.issued = now;
            const WallTime expires = now + reply.lifetime;
            e.renew_at = expires - std::min<std::chrono::seconds>(options_.renew_before, reply.lifetime / 4);
            e.valid_until =
                expires - std::min<std::chrono::seconds>(options_.valid_margin, reply.lifetime / 10);
            e.failures = 0;
            e.retry_at = e.denied_until = WallTime{};
            return;
        }
        case TokenFailure::denied:
            e.token.clear();
            e.denied_until = now + options_.denial_memory;
            e.last_failure = reply;
            return;
        case TokenFailure::unavailable: {
            ++e.failures;
            const unsigned doublings = std::min(e.failures - 1, 16u);
            const auto delay = std::min<std::chrono::seconds>(options_.backoff_initial * (1LL << doublings),
                                                              options_.backoff_max);
            e.retry_at = now + delay;
            e.last_failure = reply;
            return;
        }
    }
}

void TokenCache::drop(const std::string& account, std::string_view token) {
    auto it = entries_.find(account);
    if (it == entries_.end() || it->second.token != token) return;  // already replaced
    it->second.token.clear();
    it->second.retry_at = WallTime{};
}

std::optional<std::chrono::seconds> TokenCache::age(const std::string& account, WallTime now) const {
    auto it = entries_.find(account);
    // An expired token is no token in use (a disabled account keeps its
    // last one; its age would otherwise grow for ever).
    if (it == entries_.end() || !valid(it->second, now)) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::seconds>(now - it->second.issued);
}

bool TokenCache::fetching(const std::string& account) const {
    auto it = entries_.find(account);
    return it != entries_.end() && it->second.in_flight;
}

}  // namespace rp::oauth
