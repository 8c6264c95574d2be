// The one deadline timer for a sequence of I/O operations on one object (a
// connection): arm() before each read or write, disarm() after it; when a
// deadline passes while an operation is armed, `on_expired` runs once on
// the timer's executor (typically: cancel the socket, or close it when it
// already timed out once).
//
// Why one timer, reset lazily: a session arms a deadline for every read and
// write. The timer is only re-set when the new deadline is EARLIER than its
// current expiry; a later deadline (the common case) costs nothing, the
// early wake-up just finds the deadline moved and sleeps again.
//
// Invariants: single-threaded (use from the timer's executor only). After
// stop() or destruction `on_expired` never runs, even if a wait is still
// queued (the wait holds the shared state, not the owner), so the owner may
// capture `this` in `on_expired`. Header-only; include only from Asio-using
// .cpp files. Used by server/connection.cpp (and meant for relay/'s upstream
// transport).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

namespace rp {

class Deadline {
  public:
    using Clock = std::chrono::steady_clock;

    Deadline(const boost::asio::any_io_executor& ex, std::function<void()> on_expired)
        : state_(std::make_shared<State>(ex, std::move(on_expired))) {}
    ~Deadline() { stop(); }
    Deadline(const Deadline&) = delete;
    Deadline& operator=(const Deadline&) = delete;

    void arm(Clock::duration timeout) { arm_until(Clock::now() + timeout); }
    void arm_until(Clock::time_point deadline) {
        auto& s = *state_;
        s.deadline = deadline;
        s.armed = true;
        if (!s.waiting || s.timer.expiry() > deadline) watch(state_, deadline);
    }
    void disarm() { state_->armed = false; }
    // No expiry from now on (arm() no longer has any effect).
    void stop() {
        state_->stopped = true;
        state_->on_expired = nullptr;
        state_->timer.cancel();
    }

  private:
    struct State {
        State(const boost::asio::any_io_executor& ex, std::function<void()> f)
            : timer(ex), on_expired(std::move(f)) {}
        boost::asio::steady_timer timer;
        std::function<void()> on_expired;
        Clock::time_point deadline{};
        unsigned generation = 0;
        bool waiting = false;
        bool armed = false;
        bool stopped = false;
    };

    static void watch(const std::shared_ptr<State>& state, Clock::time_point at) {
        if (state->stopped) return;
        state->timer.expires_at(at);
        state->waiting = true;
        unsigned generation = ++state->generation;
        state->timer.async_wait([state, generation](boost::system::error_code) { fired(state, generation); });
    }

    static void fired(const std::shared_ptr<State>& state, unsigned generation) {
        if (generation != state->generation) return;  // superseded by an earlier deadline
        state->waiting = false;
        if (state->stopped || !state->armed) return;
        if (Clock::now() < state->deadline) {
            watch(state, state->deadline);
            return;
        }
        state->armed = false;
        if (state->on_expired) state->on_expired();
    }

    std::shared_ptr<State> state_;
};

}  // namespace rp
