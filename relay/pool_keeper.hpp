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
// Runs on the engine's single thread. Used by relay/ (engine, delivery,
// facade) and its tests.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <system_error>

#include "common/clock.hpp"
#include "pool/pool.hpp"
#include "pool/store.hpp"

namespace rp::relay {

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

    // co_await gives the store's error (empty: everything recorded so far is durable).
    boost::asio::awaitable<std::error_code> durable();

    // Records pending changes soon, without waiting (coalesced).
    void flush_soon();

    // The last store failure, "" when the last write succeeded (readiness).
    const std::string& problem() const { return problem_; }

  private:
    void compact_if_due();
    void note(std::error_code ec);

    boost::asio::any_io_executor executor_;
    pool::Pool& pool_;
    pool::Store& store_;
    const Clock& clock_;
    bool flush_posted_ = false;
    std::string problem_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace rp::relay
