// UsageWindow: per-minute buckets over 24 h + 1 min (see window.hpp for the
// precision argument).
#include "pool/window.hpp"

#include <algorithm>

namespace rp::pool {

namespace {

std::uint32_t apply(std::uint32_t value, std::int64_t delta) {
    return static_cast<std::uint32_t>(std::max<std::int64_t>(0, static_cast<std::int64_t>(value) + delta));
}

}  // namespace

Minute minute_of(WallTime t) {
    return std::chrono::floor<std::chrono::minutes>(t.time_since_epoch()).count();
}

WallTime start_of(Minute m) {
    return WallTime{std::chrono::minutes(m)};
}

void UsageWindow::advance(Minute now) {
    if (now <= head_) return;
    if (now - head_ >= kDayBuckets) {
        buckets_.fill(Usage{});
        day_total_ = Usage{};
    } else {
        // Slot m % N held minute m - N, which leaves the window at minute m.
        for (Minute m = head_ + 1; m <= now; ++m) {
            Usage& b = slot(m);
            day_total_.messages -= b.messages;
            day_total_.recipients -= b.recipients;
            b = Usage{};
        }
    }
    head_ = now;
}

void UsageWindow::add(WallTime at, std::int64_t messages, std::int64_t recipients, WallTime now) {
    advance(minute_of(now));
    const Minute k = std::min(minute_of(at), head_);
    if (head_ - k >= kDayBuckets) return;
    Usage& b = slot(k);
    const Usage before = b;
    b.messages = apply(b.messages, messages);
    b.recipients = apply(b.recipients, recipients);
    day_total_.messages = day_total_.messages - before.messages + b.messages;
    day_total_.recipients = day_total_.recipients - before.recipients + b.recipients;
}

Usage UsageWindow::day(WallTime now) {
    advance(minute_of(now));
    return day_total_;
}

Usage UsageWindow::hour(WallTime now) {
    advance(minute_of(now));
    Usage u;
    for (Minute m = head_ - (kHourBuckets - 1); m <= head_; ++m) {
        u.messages += slot(m).messages;
        u.recipients += slot(m).recipients;
    }
    return u;
}

std::optional<WallTime> UsageWindow::day_frees(WallTime now, std::uint32_t limit, bool recipients,
                                               std::uint32_t need) {
    if (limit == 0) return std::nullopt;
    advance(minute_of(now));
    std::int64_t used = recipients ? day_total_.recipients : day_total_.messages;
    auto has_room = [&] { return used + need <= limit; };
    if (has_room()) return std::nullopt;
    for (Minute k = head_ - (kDayBuckets - 1); k <= head_; ++k) {
        used -= recipients ? slot(k).recipients : slot(k).messages;
        if (has_room()) return start_of(k + kDayBuckets);
    }
    return std::nullopt;  // `need` alone is above the limit
}

std::optional<WallTime> UsageWindow::hour_frees(WallTime now, std::uint32_t limit) {
    if (limit == 0) return std::nullopt;
    std::int64_t used = hour(now).messages;
    if (used < limit) return std::nullopt;
    for (Minute k = head_ - (kHourBuckets - 1); k <= head_; ++k) {
        used -= slot(k).messages;
        if (used < limit) return start_of(k + kHourBuckets);
    }
    return std::nullopt;
}

std::optional<WallTime> UsageWindow::oldest_leaves(WallTime now) {
    advance(minute_of(now));
    for (Minute k = head_ - (kDayBuckets - 1); k <= head_; ++k)
        if (slot(k).messages != 0 || slot(k).recipients != 0) return start_of(k + kDayBuckets);
    return std::nullopt;
}

std::vector<std::pair<Minute, Usage>> UsageWindow::buckets(WallTime now) {
    advance(minute_of(now));
    std::vector<std::pair<Minute, Usage>> out;
    for (Minute k = head_ - (kDayBuckets - 1); k <= head_; ++k)
        if (slot(k).messages != 0 || slot(k).recipients != 0) out.emplace_back(k, slot(k));
    return out;
}

}  // namespace rp::pool
