// next_delay(): the exponential schedule, the cap, the jitter band, and
// degenerate inputs, as a table.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <vector>

#include "protocol/backoff.hpp"

using namespace rp::protocol;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST_CASE("backoff: schedule from retry_initial to retry_max (jitter centred)") {
    struct Row {
        unsigned attempts;
        milliseconds expected;
    };
    const std::vector<Row> rows = {
        {0, 1min},  {1, 1min},  {2, 2min},  {3, 4min},   {4, 8min},        {5, 16min},
        {6, 32min}, {7, 60min}, {8, 60min}, {50, 60min}, {1000000, 60min},
    };
    for (const auto& r : rows) {
        CAPTURE(r.attempts);
        CHECK(next_delay(r.attempts, 1min, 1h, 0.5) == r.expected);
    }
}

TEST_CASE("backoff: jitter is +-10 % and clamped to [initial, max]") {
    struct Row {
        unsigned attempts;
        double jitter;
        milliseconds expected;
    };
    const std::vector<Row> rows = {
        {3, 0.0, 216s},                     // 4 min * 0.9
        {3, 0.999999, 264s},                // 4 min * ~1.1
        {3, 0.25, 228s},                    // 4 min * 0.95
        {1, 0.0, 60s},                      // 54 s clamped up to initial
        {1, 1.0, 66s},       {7, 1.0, 1h},  // 66 min clamped down to max
        {7, 0.0, 54min},                    // at the cap the band goes below it
    };
    for (const auto& r : rows) {
        CAPTURE(r.attempts);
        CAPTURE(r.jitter);
        CHECK(next_delay(r.attempts, 1min, 1h, r.jitter) == r.expected);
    }
}

TEST_CASE("backoff: degenerate inputs stay sane") {
    CHECK(next_delay(5, 0ms, 1h, 0.5) == 0ms);        // zero initial never grows
    CHECK(next_delay(3, 10min, 1min, 0.5) == 10min);  // max below initial: initial wins
    CHECK(next_delay(3, 1min, 1h, -4.0) == 216s);     // jitter below 0 treated as 0
    CHECK(next_delay(3, 1min, 1h, 7.0) == 264s);      // above 1 treated as 1
    CHECK(next_delay(3, 1min, 1h, std::nan("")) == 216s);
    const auto big = milliseconds(std::chrono::hours(24 * 365 * 100));
    CHECK(next_delay(200, 1min, big, 0.5) == big);  // no overflow on the way to a huge cap
}
