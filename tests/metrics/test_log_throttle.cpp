// common/log_throttle.hpp: at most one line per interval, each line
// reporting the occurrences it stands for (none lost, none counted twice).
#include <doctest/doctest.h>

#include <chrono>

#include "common/log_throttle.hpp"

using namespace std::chrono_literals;

TEST_CASE("LogThrottle: one line per interval with the count since the last") {
    rp::LogThrottle throttle(10s);
    rp::LogThrottle::Clock::time_point t{1000s};
    CHECK(throttle.hit(t) == 1);  // the first occurrence is logged at once
    for (int i = 0; i < 99; ++i) CHECK(throttle.hit(t + 100ms * (i + 1)) == 0);
    CHECK(throttle.hit(t + 10s) == 100);  // 99 suppressed + this one
    CHECK(throttle.hit(t + 11s) == 0);
    CHECK(throttle.hit(t + 25s) == 2);
}
