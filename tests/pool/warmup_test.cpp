// Warm-up ramps: rows by UTC day, the lower of the row and the account's own
// limit, never lower than the day before, own limits after the last row.
#include <doctest/doctest.h>

#include "pool/warmup.hpp"
#include "pool_test_util.hpp"

using namespace pool_test;

namespace {

std::vector<config::WarmupRow> ramp() {
    return {{0, 100, 20}, {4, 300, 50}, {8, 700, 100}, {15, 1500, 200}};
}

config::Account new_mailbox(std::uint32_t daily = 2000) {
    auto a = account("new@pool.test", daily, 2000, 0);
    a.warmup_start = "2026-12-01";
    a.warmup_start_day = std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}.time_since_epoch().count();
    return a;
}

WallTime day(int n, std::chrono::seconds into = 0s) {
    return WallTime{std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}.time_since_epoch() +
                    std::chrono::days(n) + into};
}

}  // namespace

TEST_CASE("each ramp day takes its row; UTC midnight is the boundary") {
    struct Row {
        WallTime at;
        std::uint32_t daily, hourly;
    };
    const Row rows[] = {
        {day(0), 100, 20},
        {day(3, 86399s), 100, 20},
        {day(4), 300, 50},
        {day(7, 86399s), 300, 50},
        {day(8), 700, 100},
        {day(15), 1500, 200},
        {day(21, 86399s), 1500, 200},
        {day(22), 2000, 0},  // after the last row's 7 days: own limits
        {day(-3), 100, 20},  // a start date in the future: the most careful row
    };
    for (const auto& row : rows) {
        const pool::Limits l = pool::effective_limits(new_mailbox(), ramp(), row.at);
        CAPTURE(std::chrono::duration_cast<std::chrono::hours>(row.at - day(0)).count());
        CHECK(l.daily == row.daily);
        CHECK(l.hourly == row.hourly);
        CHECK(l.recipients == std::min<std::uint32_t>(2000, row.daily));
    }
}

TEST_CASE("the effective limit is the lower of the row and the account's own, and never falls") {
    std::uint32_t before = 0;
    for (int d = 0; d < 30; ++d) {
        const auto l = pool::effective_limits(new_mailbox(500), ramp(), day(d, 43200s));
        CHECK(l.daily <= 500);
        CHECK(l.daily >= before);
        before = l.daily;
    }
    CHECK(before == 500);
}

TEST_CASE("a warm account and an empty ramp use their own limits") {
    auto warm = account("old@pool.test", 2000, 1000, 0);
    CHECK(pool::effective_limits(warm, ramp(), day(0)).daily == 2000);
    CHECK_FALSE(pool::effective_limits(warm, ramp(), day(0)).ramp_day);
    CHECK(pool::effective_limits(new_mailbox(), {}, day(0)).daily == 2000);
}

TEST_CASE("the pool caps a new mailbox at its ramp row and shows it") {
    auto o = options();
    o.warmup = ramp();
    pool::Pool p({new_mailbox()}, o);
    int sent = 0;
    for (int i = 0; i < 200; ++i)
        if (!send(p, day(1, std::chrono::seconds(i * 400))).empty()) ++sent;  // spread over the day
    CHECK(sent == 100);
    const auto s = status_of(p, "new@pool.test", day(1, 80000s));
    CHECK(s.limits.daily == 100);
    CHECK(s.limits.ramp_day == 1u);
}
