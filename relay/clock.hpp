// The engine's clock: wall time (stored in the spool, shown to operators).
// SystemClock in production; tests use ManualClock and move time by hand, so
// no test waits for real time to pass.
// Used by relay/ only.
#pragma once

#include <chrono>

namespace rp::relay {

using WallClockTime = std::chrono::system_clock::time_point;

class Clock {
  public:
    virtual ~Clock() = default;
    virtual WallClockTime now() const = 0;
};

class SystemClock final : public Clock {
  public:
    WallClockTime now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
  public:
    explicit ManualClock(WallClockTime start = WallClockTime{} + std::chrono::hours(24 * 365 * 50))
        : now_(start) {}
    WallClockTime now() const override { return now_; }
    void advance(std::chrono::milliseconds d) { now_ += d; }

  private:
    WallClockTime now_;
};

}  // namespace rp::relay
