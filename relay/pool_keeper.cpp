// PoolKeeper: durability and compaction of the pool's journal (see
// pool_keeper.hpp).
#include "relay/pool_keeper.hpp"

#include <boost/asio/post.hpp>

#include <future>

#include "common/await_callback.hpp"
#include "common/log.hpp"
#include "relay/redis_pool_state.hpp"

namespace rp::relay {

PoolKeeper::PoolKeeper(boost::asio::any_io_executor executor, pool::Pool& pool, pool::Store& store,
                       const Clock& clock)
    : executor_(std::move(executor)), pool_(pool), store_(store), clock_(clock) {}

std::error_code PoolKeeper::open() {
    if (shared_) {
        // Redis holds the shared state: nothing local to load; deliveries
        // wait until it is reachable (durable() says unavailable).
        shared_->start();
        return {};
    }
    const WallTime now = clock_.now();
    pool::Store::Loaded loaded;
    if (auto ec = store_.load(loaded)) {
        log::error("pool", "cannot read pool.state", {{"file", store_.describe()}, {"error", ec.message()}});
        return ec;
    }
    const pool::ParsedState parsed = pool::parse_state(loaded.text);
    switch (parsed.status) {
        case pool::ParsedState::Status::ok:
            pool_.restore(parsed, now);
            break;
        case pool::ParsedState::Status::torn_tail:
            log::warn("pool", "pool.state: dropped a torn tail (sends that never started)",
                      {{"file", store_.describe()}, {"lines", std::to_string(parsed.dropped_lines)}});
            pool_.restore(parsed, now);
            break;
        case pool::ParsedState::Status::unreadable: {
            std::string moved_to;
            if (auto ec = store_.set_aside(moved_to)) {
                log::error("pool", "pool.state is unreadable and cannot be moved aside",
                           {{"file", store_.describe()}, {"error", ec.message()}});
                return ec;
            }
            log::error("pool",
                       "pool.state is unreadable: moved aside; every account is assumed to have sent its "
                       "full limit at the file's last write (pool resume NAME overrides)",
                       {{"file", store_.describe()}, {"moved_to", moved_to}, {"problem", parsed.problem}});
            pool_.assume_full(loaded.last_write, "pool.state unreadable: assumed at its full limit", now);
            break;
        }
    }
    // Start from a compact file; a failure here is a failure to start.
    // (The store completes on its own thread: wait for it, start-up only.)
    // The snapshot reflects every journal line recorded so far: drop them.
    pool_.take_journal();
    std::promise<std::error_code> written;
    store_.replace(pool_.snapshot(now), [&](std::error_code ec) { written.set_value(ec); });
    const std::error_code ec = written.get_future().get();
    note(ec);
    return ec;
}

boost::asio::awaitable<std::error_code> PoolKeeper::durable() {
    if (shared_) {
        forward_journal();
        co_return std::error_code();
    }
    // Even with no lines of its own (a compaction took them into its
    // snapshot) the append is queued after that snapshot: done means durable.
    std::string lines = pool_.take_journal();
    const std::error_code ec = co_await await_callback<std::error_code>(
        [this, &lines](auto done) { store_.append(lines, std::move(done)); });
    note(ec);
    if (ec) {
        pool_.give_back_journal(std::move(lines));
        co_return ec;
    }
    compact_if_due();
    co_return ec;
}

void PoolKeeper::flush_soon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    std::weak_ptr<int> alive = alive_;
    boost::asio::post(executor_, [this, alive] {
        if (alive.expired()) return;
        flush_posted_ = false;
        if (shared_) return forward_journal();
        std::string lines = pool_.take_journal();
        if (lines.empty()) return;
        store_.append(lines, noted_or_given_back(lines));
    });
}

std::string PoolKeeper::problem() const {
    return shared_ ? shared_->problem() : problem_;
}

void PoolKeeper::compact_if_due() {
    if (pool_.journal_lines_since_snapshot() < kCompactEvery) return;
    // The journal is reflected in the snapshot; if the snapshot cannot be
    // written, the old file stays and the lines go to it.
    std::string lines = pool_.take_journal();
    store_.replace(pool_.snapshot(clock_.now()), noted_or_given_back(std::move(lines)));
}

// A store callback (on the store's thread) for a write of `lines`: back on
// the executor, the result is noted and, on failure, the lines go back to
// the journal to be written with the next ones.
pool::Store::Done PoolKeeper::noted_or_given_back(std::string lines) {
    return [this, alive = std::weak_ptr<int>(alive_), lines = std::move(lines),
            ex = executor_](std::error_code ec) mutable {
        boost::asio::post(ex, [this, alive, lines = std::move(lines), ec]() mutable {
            if (alive.expired()) return;
            note(ec);
            if (ec) pool_.give_back_journal(std::move(lines));
        });
    };
}

void PoolKeeper::note(std::error_code ec) {
    if (ec) {
        if (problem_.empty())
            log::error("pool", "pool.state write failed; no send starts until it succeeds",
                       {{"file", store_.describe()}, {"error", ec.message()}});
        problem_ = "pool.state write failed: " + ec.message();
    } else if (!problem_.empty()) {
        log::info("pool", "pool.state writable again", {{"file", store_.describe()}});
        problem_.clear();
    }
}

}  // namespace rp::relay
