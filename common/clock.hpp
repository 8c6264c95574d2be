// The one wall-clock time type and the clock that produces it. Wall time
// (not steady time) because it is stored (spool, pool.state), compared with
// rolling 24-hour windows and shown to operators.
// SystemClock in production; tests use ManualClock and move time by hand, so
// no test waits for real time to pass. Pure standard library; used by every
// folder that needs "now".
#pragma once

#include <chrono>

namespace rp {

using WallTime = std::chrono::system_clock::time_point;  // stored as unix milliseconds

class Clock {
  public:
    virtual ~Clock() = default;
    virtual WallTime now() const = 0;
};

class SystemClock final : public Clock {
  public:
    WallTime now() const override { return std::chrono::system_clock::now(); }
};

class ManualClock final : public Clock {
  public:
    explicit ManualClock(WallTime start = WallTime{} + std::chrono::hours(24 * 365 * 50)) : now_(start) {}
    WallTime now() const override { return now_; }
    void advance(std::chrono::milliseconds d) { now_ += d; }
    void set(WallTime t) { now_ = t; }

  private:
    WallTime now_;
};

}  // namespace rp
