// UsageWindow: one account's sends over the last 24 hours as per-minute
// buckets (messages and recipients), so every question the pool asks (how
// many in the last day / hour, when does room free up) costs a bounded
// amount of work whatever the traffic: 1,441 buckets, 11.5 KiB per account.
//
// Precision (the guarantee limits rest on): a send made at time t lands in
// the bucket of minute floor(t / 1 min) and is counted until that minute is
// 24 h + 1 min old. It is therefore counted for at least 24 hours (a limit is
// never exceeded) and at most one minute longer (an account may come back up
// to one bucket late). The hourly window works the same way with 61 buckets.
//
// Pure: no clock of its own (callers pass `now`), no I/O, not thread-safe.
// Used by pool/pool.cpp and its tests.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/clock.hpp"

namespace rp::pool {

using Minute = std::int64_t;  // minutes since the unix epoch
Minute minute_of(WallTime t);
WallTime start_of(Minute m);

struct Usage {
    std::uint32_t messages = 0;
    std::uint32_t recipients = 0;
};

class UsageWindow {
  public:
    static constexpr Minute kDayBuckets = 24 * 60 + 1;  // a send counts while (now - its minute) <= 1440
    static constexpr Minute kHourBuckets = 60 + 1;

    // Adds (or, with negative deltas, removes) usage in the bucket of `at`.
    // A bucket already outside the day window at `now` is ignored (a
    // reservation released a day later changes nothing).
    void add(WallTime at, std::int64_t messages, std::int64_t recipients, WallTime now);

    Usage day(WallTime now);
    Usage hour(WallTime now);

    // The earliest time at which the day's messages drop below `limit`
    // (when `recipients` is false) or the day's recipients drop to at most
    // `limit - need` (when true); nullopt when already so, or limit == 0.
    std::optional<WallTime> day_frees(WallTime now, std::uint32_t limit, bool recipients,
                                      std::uint32_t need = 1);
    std::optional<WallTime> hour_frees(WallTime now, std::uint32_t limit);

    // When the oldest send still in the day window leaves it (Gmail's 550
    // 5.4.5 exhaustion lasts until then); nullopt when the window is empty.
    std::optional<WallTime> oldest_leaves(WallTime now);

    // Non-empty buckets (minute, usage), oldest first: the snapshot form.
    std::vector<std::pair<Minute, Usage>> buckets(WallTime now);

  private:
    void advance(Minute now);
    Usage& slot(Minute m) { return buckets_[static_cast<std::size_t>(m % kDayBuckets)]; }

    std::array<Usage, kDayBuckets> buckets_{};
    Minute head_ = 0;  // the newest minute advanced to; buckets hold (head_ - 1440 .. head_]
    Usage day_total_{};
};

}  // namespace rp::pool
