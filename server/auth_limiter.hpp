// Password-guessing limits across connections (docs/submission.md "Password
// guessing"): failed AUTH attempts are counted per client source (an IPv4
// address, an IPv6 /64) and per username, in leaky buckets that forget one
// failure per `leak` interval.
//
// Decisions, taken BEFORE a password is queued for hashing (so a hot source
// never reaches the shared AuthWorkers queue):
// - refuse (421 4.7.0, connection closed): the source reached
//   `source_block` failures and stays blocked for `block_time`; or the
//   username reached `user_hot` failures and this source has failed
//   recently too. A source with no recent failure is always checked, so
//   the real user still gets in while the name is under attack.
// - busy (454 4.7.0, not counted): the source already has
//   `max_in_flight` checks queued or running (`max_in_flight_clean`, half
//   the queue, while it has no recent failure: an application's connection
//   pool); others keep queue room.
// - check: hash it; finished() then records the outcome.
// failure_delay() grows the auth failure delay with the source's count.
//
// Invariants: memory is bounded (at most max_sources + max_users entries,
// least recently used evicted first); time is passed in (tests use a
// manual clock). Not thread-safe: used on the io_context thread by
// server/connection_actions.cpp; tests/server/test_auth_limiter.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rp::server {

class AuthLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    struct Limits {
        double source_block = 10;  // failures from one source that block it
        double user_hot = 20;      // failures for one username (all sources) that make it hot
        std::chrono::seconds leak{60};
        std::chrono::seconds block_time{15 * 60};
        unsigned max_in_flight = 4;         // per failing source, queued or running hash checks
        unsigned max_in_flight_clean = 16;  // per source without recent failures (half the queue)
        std::size_t max_sources = 16384;
        std::size_t max_users = 4096;
    };

    enum class Verdict { check, busy, refuse };

    AuthLimiter() = default;
    explicit AuthLimiter(Limits limits) : limits_(limits) {}

    // `source` is a client_source() key. On `check` the caller must
    // call finished() once with the same source and username.
    Verdict admit(const std::string& source, std::string_view user, Clock::time_point now);
    // ok: the password matched. counted: false when the check did not run
    // (the workers' queue was full): nothing is recorded then.
    void finished(const std::string& source, std::string_view user, bool ok, bool counted,
                  Clock::time_point now);

    // The delay before a 535: `base` for the first 3 failures in the
    // source's bucket, then doubling per failure, at most 8 x base.
    std::chrono::milliseconds failure_delay(const std::string& source, std::chrono::milliseconds base,
                                            Clock::time_point now);

    std::size_t tracked_sources() const { return sources_.size(); }
    std::size_t tracked_users() const { return users_.size(); }

  private:
    struct Entry {
        double score = 0;
        Clock::time_point updated{};
        Clock::time_point blocked_until{};
        unsigned in_flight = 0;
        std::list<std::string>::iterator lru;
    };
    struct Table {
        std::unordered_map<std::string, Entry> map;
        std::list<std::string> lru;  // most recent first
        std::size_t size() const { return map.size(); }
    };

    Entry* find(Table& t, const std::string& key, Clock::time_point now);
    Entry& touch(Table& t, const std::string& key, std::size_t cap, Clock::time_point now);
    void leak(Entry& e, Clock::time_point now) const;
    static std::string user_key(std::string_view user);

    Limits limits_;
    Table sources_;
    Table users_;
};

}  // namespace rp::server
