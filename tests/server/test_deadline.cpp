// common/deadline.hpp on a real io_context: a passed deadline with I/O armed
// calls on_expired once; disarm(), stop() and destruction prevent it; an
// earlier deadline re-sets the timer and a later one is honoured after an
// early wake-up. Durations only order events (no timing assertions).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>

#include "common/deadline.hpp"

using namespace std::chrono_literals;

namespace {

// Runs `io` for `duration` (pending longer deadlines stay pending).
void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
    io.run_for(duration);
    io.restart();
}

}  // namespace

TEST_CASE("Deadline fires once when armed I/O outlives it") {
    boost::asio::io_context io;
    int fired = 0;
    rp::Deadline d(io.get_executor(), [&] { ++fired; });
    d.arm(5ms);
    run_for(io, 50ms);
    CHECK(fired == 1);
}

TEST_CASE("Deadline: disarmed, stopped or destroyed never fires") {
    boost::asio::io_context io;
    int fired = 0;
    rp::Deadline a(io.get_executor(), [&] { ++fired; });
    a.arm(5ms);
    a.disarm();
    rp::Deadline b(io.get_executor(), [&] { ++fired; });
    b.arm(5ms);
    b.stop();
    b.arm(5ms);  // no effect after stop()
    auto c = std::make_unique<rp::Deadline>(io.get_executor(), [&] { ++fired; });
    c->arm(5ms);
    c.reset();  // the queued wait must not call into the destroyed owner
    run_for(io, 50ms);
    CHECK(fired == 0);
}

TEST_CASE("Deadline: an earlier deadline wins, a later one is waited for") {
    boost::asio::io_context io;
    int fired = 0;
    rp::Deadline d(io.get_executor(), [&] { ++fired; });
    d.arm(10s);
    d.arm(5ms);  // earlier: the timer is re-set
    run_for(io, 50ms);
    CHECK(fired == 1);
    d.arm(5ms);
    d.arm(10s);  // later: the early wake-up sleeps again
    run_for(io, 50ms);
    CHECK(fired == 1);
    d.disarm();
}
