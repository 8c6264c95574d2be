// Warm-up ramps (see warmup.hpp).
#include "pool/warmup.hpp"

#include <algorithm>

namespace rp::pool {

namespace {

// The lower of two caps where 0 means "no cap".
std::uint32_t lower_cap(std::uint32_t a, std::uint32_t b) {
    if (a == 0) return b;
    if (b == 0) return a;
    return std::min(a, b);
}

}  // namespace

Limits effective_limits(const config::Account& account, const std::vector<config::WarmupRow>& ramp,
                        WallTime now) {
    Limits l{account.daily_limit, account.daily_recipient_limit, account.hourly_limit, std::nullopt};
    if (!account.warmup_start_day || ramp.empty()) return l;
    const std::int64_t today = std::chrono::floor<std::chrono::days>(now.time_since_epoch()).count();
    const std::int64_t day = std::max<std::int64_t>(0, today - *account.warmup_start_day);
    const config::WarmupRow* row = nullptr;
    for (const auto& r : ramp)
        if (r.from_day <= day) row = &r;
    if (!row) return l;
    if (row == &ramp.back() && day >= static_cast<std::int64_t>(row->from_day + kLastRowDays)) return l;
    l.daily = lower_cap(l.daily, row->daily);
    l.recipients = lower_cap(l.recipients, row->daily);
    l.hourly = lower_cap(l.hourly, row->hourly);
    l.ramp_day = static_cast<std::uint32_t>(day);
    return l;
}

}  // namespace rp::pool
