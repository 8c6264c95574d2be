// Warm-up ramps: the limits a new mailbox may use on each day after its
// warmup_start (SPEC.md "Delivery"). Days are counted in UTC: day 0 is the
// warmup_start date itself. Each row applies from its from_day until the
// next row; the last row applies for kLastRowDays days, then the account's
// own limits. A start date in the future counts as day 0 (the most careful
// row). The effective limit is the lower of the account's own limit and the
// row's; config load checks rows never decrease, so neither does a ramp.
// Pure. Used by pool/pool.cpp and its tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace rp::pool {

inline constexpr std::uint32_t kLastRowDays = 7;

struct Limits {
    std::uint32_t daily = 0;                // messages per 24 h (>= 1)
    std::uint32_t recipients = 0;           // recipients per 24 h; 0 = none
    std::uint32_t hourly = 0;               // messages per hour; 0 = none
    std::optional<std::uint32_t> ramp_day;  // set while a warm-up row applies
};

// The account's limits at `now`, after its warm-up row if one applies. A
// ramp row's `daily` caps recipients too: Gmail counts recipients.
Limits effective_limits(const config::Account& account, const std::vector<config::WarmupRow>& ramp,
                        WallTime now);

}  // namespace rp::pool
