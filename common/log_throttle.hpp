// Rate limit for a log line that a failure loop repeats (an accept loop
// backing off from EMFILE would otherwise log ten lines a second): at most
// one line per interval, reporting how many occurrences it stands for.
//
// Header-only, no I/O; the caller passes the time (tests use any clock
// value). Not thread-safe: one per loop. Used by the accept loops of
// server/server.cpp and metrics/http_server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace rp {

class LogThrottle {
  public:
    using Clock = std::chrono::steady_clock;

    explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

    // Counts one occurrence. Returns the occurrences to report (this one
    // included) when a line is due now, else 0 (the occurrence is carried
    // into the next line).
    std::uint64_t hit(Clock::time_point now) {
        ++pending_;
        if (last_ && now - *last_ < interval_) return 0;
        last_ = now;
        std::uint64_t n = pending_;
        pending_ = 0;
        return n;
    }

  private:
    Clock::duration interval_;
    std::optional<Clock::time_point> last_;
    std::uint64_t pending_ = 0;
};

}  // namespace rp
