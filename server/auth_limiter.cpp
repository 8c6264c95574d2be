// Password-guessing limiter (see auth_limiter.hpp).
#include "server/auth_limiter.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace rp::server {
namespace {

// Usernames longer than this count together: a bounded key whatever a
// client sends (configured usernames are far shorter).
constexpr std::size_t kMaxUserKey = 256;
constexpr double kFreeFailures = 3;  // failures before the delay starts growing
constexpr int kMaxDelayDoublings = 3;

}  // namespace

std::string AuthLimiter::user_key(std::string_view user) {
    return std::string(user.substr(0, kMaxUserKey));
}

void AuthLimiter::leak(Entry& e, Clock::time_point now) const {
    if (now > e.updated) {
        double elapsed = std::chrono::duration<double>(now - e.updated).count();
        e.score = std::max(0.0, e.score - elapsed / static_cast<double>(limits_.leak.count()));
    }
    e.updated = now;
}

AuthLimiter::Entry* AuthLimiter::find(Table& t, const std::string& key, Clock::time_point now) {
    auto it = t.map.find(key);
    if (it == t.map.end()) return nullptr;
    leak(it->second, now);
    return &it->second;
}

AuthLimiter::Entry& AuthLimiter::touch(Table& t, const std::string& key, std::size_t cap,
                                       Clock::time_point now) {
    auto it = t.map.find(key);
    if (it != t.map.end()) {
        t.lru.splice(t.lru.begin(), t.lru, it->second.lru);
        leak(it->second, now);
        return it->second;
    }
    while (!t.lru.empty() && t.map.size() >= std::max<std::size_t>(cap, 1)) {
        t.map.erase(t.lru.back());
        t.lru.pop_back();
    }
    t.lru.push_front(key);
    Entry& e = t.map[key];
    e.updated = now;
    e.lru = t.lru.begin();
    return e;
}

AuthLimiter::Verdict AuthLimiter::admit(const std::string& source, std::string_view user,
                                        Clock::time_point now) {
    Entry& s = touch(sources_, source, limits_.max_sources, now);
    if (now < s.blocked_until) return Verdict::refuse;
    const std::string ukey = user_key(user);
    Entry* u = find(users_, ukey, now);
    if (u && u->score >= limits_.user_hot && s.score > 0) {
        // A guessing source moving on to a hot name: count it against the source.
        s.score += 1;
        if (s.score >= limits_.source_block) s.blocked_until = now + limits_.block_time;
        return Verdict::refuse;
    }
    // A source that has failed recently gets a small share of the hash
    // queue; one without failures (an application opening a pool of 16
    // connections at once, all good passwords) a larger one: with the small
    // share for everyone the benchmark's load generator had 12 of its 16
    // connections refused. Either way half the queue stays for the others.
    const unsigned share = s.score >= 1.0 ? limits_.max_in_flight : limits_.max_in_flight_clean;
    if (s.in_flight >= share) return Verdict::busy;
    ++s.in_flight;
    return Verdict::check;
}

void AuthLimiter::finished(const std::string& source, std::string_view user, bool ok, bool counted,
                           Clock::time_point now) {
    Entry* s = find(sources_, source, now);  // may have been evicted meanwhile
    if (s && s->in_flight > 0) --s->in_flight;
    if (ok || !counted) return;
    Entry& src = s ? *s : touch(sources_, source, limits_.max_sources, now);
    src.score += 1;
    if (src.score >= limits_.source_block) src.blocked_until = now + limits_.block_time;
    Entry& u = touch(users_, user_key(user), limits_.max_users, now);
    u.score += 1;
}

std::chrono::milliseconds AuthLimiter::failure_delay(const std::string& source,
                                                     std::chrono::milliseconds base, Clock::time_point now) {
    Entry* s = find(sources_, source, now);
    if (!s || s->score <= kFreeFailures) return base;
    int doublings = std::min(kMaxDelayDoublings, static_cast<int>(s->score - kFreeFailures + 0.999));
    return base * (1 << doublings);
}

}  // namespace rp::server
