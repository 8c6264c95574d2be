// PoolKeeper: the pool (pool::Pool, pure) joined to its store (pool.state)
// on the engine's executor. The pool decides; the keeper makes its journal
// durable and compacts it.
//
// Invariants:
// - durable() completes only when every journal line recorded so far (in
//   particular the reservation just made) is in the store: a send is
//   recorded before it starts. Concurrent callers share the store's fsync.
// - Other changes (settlements, state changes, pauses) are flushed soon
//   after (one post per burst), not awaited: losing them in a crash only
//   makes the pool more careful (a release not recorded counts as a send).
// - A failed store write fails durable(); the caller releases its
//   reservation and retries later. Nothing is sent unrecorded.
// - open() at start: loads pool.state; a torn tail is dropped (logged); an
//   unreadable file is set aside and every account is assumed to have sent
//   its full limit at the file's last write; then a fresh snapshot is
//   written (compaction), and again every kCompactEvery journal lines.
// - Shared mode (pool.state redis:// or rediss://, share() before open()):
//   the pool still decides locally, but Redis is the authority on usage:
//   durable(reservation) reserves the send in Redis (one script checks every
//   shared window) and fails with SharedErrc::full (the account is held
//   back locally until Redis says it has room) or SharedErrc::unavailable
//   (Redis down: nothing is sent unreserved). Settlements and state changes
//   from the journal go to Redis; newer states of other instances are
//   applied to the local pool (polled, docs/pool.md). No local file.
// Runs on the engine's single thread. Used by relay/ (engine, delivery,
// facade) and its tests.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "pool/pool.hpp"
#include "pool/store.hpp"

namespace rp::relay {

class RedisPoolState;
struct SharedAccountState;

// Why a shared (Redis) reservation did not happen.
enum class SharedErrc { full = 1, unavailable = 2 };
std::error_code make_error_code(SharedErrc e);

class PoolKeeper {
  public:
    static constexpr std::size_t kCompactEvery = 100000;

    PoolKeeper(boost::asio::any_io_executor executor, pool::Pool& pool, pool::Store& store,
               const Clock& clock);

    // Loads and applies the stored state; an error only when the store
    // cannot be read or written at all (the relay then refuses to start).
    std::error_code open();

    pool::Pool& pool() { return pool_; }
    const pool::Store& store() const { return store_; }

    // Shared mode: `shared` (not owned) is the pool's Redis half; on_change
    // runs when another instance's state change was applied (wake the engine).
    void share(RedisPoolState* shared, std::function<void()> on_change);
    bool shared() const { return shared_ != nullptr; }
    // Sends may start (false while Redis is unreachable: the engine holds
    // its messages instead of attempting them).
    bool can_send() const;

    // co_await gives the store's error (empty: everything recorded so far is durable).
    boost::asio::awaitable<std::error_code> durable();
    // The same, for a reservation just made: in shared mode it is reserved
    // in Redis (SharedErrc::full or ::unavailable when not).
    boost::asio::awaitable<std::error_code> durable(const pool::Reservation& r);

    // Records pending changes soon, without waiting (coalesced).
    void flush_soon();

    // Shared mode, at stop: sends the last settlements and state changes,
    // waits (bounded by the connection's timeout) until Redis has them,
    // then disconnects for good. File mode: done at once.
    void shutdown(std::function<void()> done);

    // The last store failure, "" when the last write succeeded (readiness);
    // shared mode: why Redis is not usable.
    std::string problem() const;

  private:
    void compact_if_due();
    void note(std::error_code ec);
    pool::Store::Done noted_or_given_back(std::string lines);
    void forward_journal();
    void retry_unsettled();
    void adopt(const std::vector<SharedAccountState>& states);
    void hold_back(const pool::Reservation& r, std::int64_t until_ms);
    void settle_shared(const std::string& account, const std::string& id, std::uint32_t delivered);
    void publish_shared(const std::string& account, const std::string& stored, bool by_operator);
    void retry_unpublished();

    boost::asio::any_io_executor executor_;
    pool::Pool& pool_;
    pool::Store& store_;
    const Clock& clock_;
    bool flush_posted_ = false;
    std::string problem_;
    RedisPoolState* shared_ = nullptr;
    std::function<void()> on_change_;
    std::string instance_;                                     // shared mode: prefix of reservation ids
    std::unordered_map<std::uint64_t, std::string> reserved_;  // reserved in Redis, not yet settled
    std::unordered_map<std::string, std::uint64_t> seen_;      // newest state sequence per account
    struct Unsettled {
        std::string account, id;
        std::uint32_t delivered;
    };
    // Settlements Redis has not confirmed (down, or the connection failed
    // under them): given again once it is back. Includes reservations whose
    // answer was lost (released: nothing was sent for them).
    std::vector<Unsettled> unsettled_;
    struct Unpublished {
        std::string stored;        // "<state> <since_ms> <until_ms> <reason>"
        bool by_operator = false;  // pool::by_operator: may replace a pause
        bool in_flight = false;
    };
    // This instance's newest state per account that Redis has not confirmed
    // (down, refused, or the connection failed under it): given again once
    // it is back. Meanwhile a shared state for that account is adopted only
    // when it began later (its since_ms): otherwise a pause made during an
    // outage would be undone here and never seen elsewhere.
    std::unordered_map<std::string, Unpublished> unpublished_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace rp::relay
