// Engine: the delivery loop. One coroutine on the io_context's single thread
// takes due messages from the Scheduler while the active window and the
// accounts' connection slots allow, runs one attempt_delivery() coroutine per
// message, and sleeps on a timer until the next due time, the next moment an
// account becomes usable again, or a poke (new commit, finished delivery,
// admin action).
//
// Invariants:
// - Held messages (no usable account) are woken as soon as an account is
//   usable again (resume, cooldown over, rolling window frees), not at their
//   next backoff time: as many as there are free connection slots, oldest
//   first, not the whole backlog at once.
// - At most Scheduler::max_active deliveries run at once; only those
//   messages' envelopes are in memory.
// - Not thread-safe: every method runs on the engine's executor. The spool's
//   commit listener (another thread) only posts to it.
// Used by relay/relay.cpp and the relay tests.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/delivery.hpp"
#include "relay/scheduler.hpp"

namespace rp::relay {

struct EngineOptions {
    std::size_t max_active = 1;  // active window (connections_per_account x accounts)
    std::chrono::milliseconds stop_grace = std::chrono::seconds(10);
    // Held by every running coroutine, so whatever owns the engine (and the
    // spool, transport and pool it uses) outlives abandoned deliveries.
    std::weak_ptr<void> keepalive;
    // Runs where the engine publishes its gauges (queue, accounts), for
    // parts it does not own (the XOAUTH2 token ages).
    std::function<void(WallTime)> on_publish;
};

class Engine {
  public:
    Engine(boost::asio::any_io_executor executor, DeliveryContext context, EngineOptions options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Index the recovered messages (all due now: at-least-once after a
    // crash), subscribe to new commits and start the loop.
    void start(const std::vector<spool::MessageSummary>& recovered);
    // Stop taking work; on_stopped is posted when the running deliveries have
    // finished or stop_grace has passed (those left are abandoned: their
    // messages stay queued in their last durable state).
    void stop(std::function<void()> on_stopped);
    bool running() const { return started_ && !stopping_; }

    // Re-evaluate now (cheap; coalesced).
    void poke();
    // The active window after a reload changed the number of accounts.
    void set_max_active(std::size_t n) {
        scheduler_.set_max_active(n);
        poke();
    }

    // Admin.
    bool retry(const std::string& id);
    std::size_t retry_all();
    enum class EraseResult { erased, not_found, active, failed };
    EraseResult erase(const std::string& id);
    bool pause(const std::string& account);
    bool resume(const std::string& account);

    const Scheduler& scheduler() const { return scheduler_; }
    pool::Pool& pool() { return context_.pool.pool(); }
    PoolKeeper& keeper() { return context_.pool; }
    DeliveryContext& context() { return context_; }

  private:
    boost::asio::awaitable<void> loop();
    void launch(const std::string& id);
    void on_finished(const std::string& id, Disposition d);
    std::chrono::milliseconds wait_time(WallTime now) const;
    void publish(WallTime now);
    void finish_stop();

    boost::asio::any_io_executor executor_;
    DeliveryContext context_;
    EngineOptions options_;
    Scheduler scheduler_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer grace_timer_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // callbacks check it
    bool started_ = false;
    bool stopping_ = false;
    bool stopped_ = false;
    bool poked_ = false;
    bool waiting_ = false;
    std::function<void()> on_stopped_;
};

}  // namespace rp::relay
