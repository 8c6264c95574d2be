// RedisPoolState: the pool's shared half when pool.state is redis:// or
// rediss:// (docs/pool.md "Shared state in Redis"). Several relaypool
// instances pointing at one Redis (and one key prefix) share every
// account's rolling usage windows and its stored state.
//
// Keys (P = the URL's prefix, A = an account's username):
//   P:u:A   hash  "m<minute>" / "r<minute>" -> messages / recipients sent in
//                 that minute (unix minutes); fields older than 24 h + 1 min
//                 are deleted by every reservation: at most 2 x 1,441 fields
//   P:f:A   hash  reservation id -> "<minute> <recipients>" (in flight)
//   P:t:A   zset  reservation id, scored by its expiry (unix ms)
//   P:states hash A -> "<seq> <state> <since_ms> <until_ms> <reason>"
//   P:seq   counter: the order of state changes (last writer wins)
//
// Invariants:
// - reserve() is one EVALSHA (scripts loaded with SCRIPT LOAD, re-loaded
//   on NOSCRIPT): it checks the daily, recipient and hourly windows and
//   reserves a message and its recipients in one step, or says when the
//   account has room again. Nothing is reserved while Redis is down: the
//   answer is `unavailable`.
// - settle() undoes what was not sent (one message and its recipients
//   when nothing was, the recipients refused otherwise). A reservation
//   never settled (its instance crashed, or the settlement was lost with
//   the connection) stays counted in full; after reservation_ttl it is no
//   longer tracked (its record expires), so memory stays bounded.
// - Times are Redis's own clock (TIME inside the scripts): instances with
//   skewed clocks still share one window. Tests may pass `now_ms`.
// - States are polled every poll_ms (the bounded staleness of a pause,
//   resume, cooldown or exhaustion seen by another instance).
// - Not ready (so no send starts) until the scripts are loaded, which is
//   retried every poll_ms while Redis refuses (LOADING after a restart,
//   NOPERM), and for a backoff (1 s doubling to 30 s) after Redis answers a
//   script with an error (MISCONF: its disk is full, OOM, READONLY,
//   NOREPLICAS): the engine holds its messages instead of asking again at
//   Redis's round-trip rate. READONLY and LOADING also reconnect.
// Runs on the engine's executor; not thread-safe. Used by
// relay/pool_keeper.* and tests/relay.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/redis_url.hpp"
#include "pool/warmup.hpp"

namespace rp::relay {

class RedisConnection;
struct RedisReply;

struct SharedReserve {
    enum class Result { ok, full, unavailable };
    Result result = Result::unavailable;
    std::int64_t until_ms = 0;  // full: when the account has room again
    std::string why;            // unavailable: for logs
};

struct SharedAccountState {
    std::string account;
    std::uint64_t seq = 0;
    std::string state;  // active | cooling_down | exhausted | disabled | paused
    std::int64_t since_ms = 0;
    std::int64_t until_ms = 0;
    std::string reason;
};

class RedisPoolState {
  public:
    RedisPoolState(boost::asio::any_io_executor executor, const config::RedisUrl& url, std::string password);
    ~RedisPoolState();

    void start();
    void stop();
    // Stops once every command given so far has its answer (or the
    // connection failed); then `done`.
    void shutdown(std::function<void()> done);

    // Connected, scripts loaded, states read at least once.
    bool ready() const;
    std::string problem() const;  // "" when ready
    std::string describe() const;
    const config::RedisUrl& url() const { return url_; }

    void reserve(const std::string& account, const std::string& id, std::uint32_t recipients,
                 const pool::Limits& limits, std::function<void(SharedReserve)> done,
                 std::optional<std::int64_t> now_ms = std::nullopt);
    // `done(true)` once Redis ran it, or rejected it for good (an error
    // that would come back, such as WRONGTYPE: logged); false when the
    // connection failed first or Redis refused it for now (MISCONF, OOM,
    // READONLY, ...: the caller may give it again; a settlement applies once).
    void settle(const std::string& account, const std::string& id, std::uint32_t delivered,
                std::optional<std::int64_t> now_ms = std::nullopt, std::function<void(bool)> done = {});
    // Publishes an account's stored state ("<state> <since_ms> <until_ms> <reason>");
    // unless `by_operator`, Redis keeps a pause it holds instead (see
    // pool::by_operator). `done` as for settle(); a kept pause is done(true).
    void publish(const std::string& account, const std::string& stored, bool by_operator,
                 std::function<void(bool)> done = {});
    // Reads every account's state now (also done every poll_ms).
    void poll();

    // Shared states as read (every poll); the owner applies newer ones.
    void on_states(std::function<void(std::vector<SharedAccountState>)> f) { states_hook_ = std::move(f); }
    // Ready turned true or false (metrics, waking the engine).
    void on_ready(std::function<void(bool)> f) { ready_hook_ = std::move(f); }

    // A direct command (tests, benchmarks): the reply's text or an error.
    void raw(std::vector<std::string> args, std::function<void(RedisReply)> done);

  private:
    enum Script { kReserve, kSettle, kState, kScripts };
    void load_scripts();
    void eval(Script s, std::vector<std::string> args, std::function<void(RedisReply)> done,
              bool retry = true);
    void set_ready(bool ready);
    void schedule_poll();
    // Redis answered a script with an error: not ready for a while.
    void refused(const std::string& why);
    // The reply of a settlement or state write (`what`): false when it is
    // worth giving again (see settle()).
    bool finished(const RedisReply& r, std::string_view what);
    std::string key(char kind, const std::string& account) const;

    config::RedisUrl url_;
    std::unique_ptr<RedisConnection> conn_;
    boost::asio::any_io_executor executor_;
    std::string sha_[kScripts];
    bool scripts_loaded_ = false;
    bool scripts_loading_ = false;
    std::string scripts_error_;  // the last SCRIPT LOAD refusal ("" after a load)
    std::chrono::steady_clock::time_point refused_until_{};
    std::chrono::milliseconds refusal_backoff_{0};
    std::string refusal_;  // the last refused write, until one runs
    bool polled_ = false;
    bool ready_ = false;
    bool poll_in_flight_ = false;
    std::uint64_t generation_ = 0;  // connection generation: stale replies are ignored
    std::function<void(std::vector<SharedAccountState>)> states_hook_;
    std::function<void(bool)> ready_hook_;
    struct Timer;
    std::unique_ptr<Timer> timer_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace rp::relay
