// UsageWindow at its edges: a send counts for at least 24 h (never less:
// limits hold) and at most one minute more (one bucket late at worst).
#include <doctest/doctest.h>

#include "pool/window.hpp"
#include "pool_test_util.hpp"

using namespace pool_test;
using pool::UsageWindow;

TEST_CASE("a send counts for 24 hours, and at most one bucket longer") {
    for (auto offset : {0s, 1s, 30s, 59s}) {
        CAPTURE(offset.count());
        UsageWindow w;
        const WallTime sent = t0() + offset;
        w.add(sent, 1, 3, sent);
        CHECK(w.day(sent).messages == 1);
        CHECK(w.day(sent).recipients == 3);
        CHECK(w.day(sent + 24h - 1ms).messages == 1);  // never less than 24 h
        CHECK(w.day(sent + 24h + 60s).messages == 0);  // at most one minute more
    }
}

TEST_CASE("the hourly window counts the last hour the same way") {
    UsageWindow w;
    w.add(t0(), 1, 1, t0());
    w.add(t0() + 30min, 2, 2, t0() + 30min);
    CHECK(w.hour(t0() + 30min).messages == 3);
    CHECK(w.hour(t0() + 1h - 1ms).messages == 3);
    CHECK(w.hour(t0() + 1h + 1min).messages == 2);
    CHECK(w.hour(t0() + 1h + 31min).messages == 0);
    CHECK(w.day(t0() + 1h + 31min).messages == 3);
}

TEST_CASE("day_frees names the moment the oldest sends leave") {
    UsageWindow w;
    w.add(t0(), 1, 1, t0());
    w.add(t0() + 2h, 1, 1, t0() + 2h);
    const WallTime now = t0() + 3h;
    CHECK_FALSE(w.day_frees(now, 3, false));  // room left
    const auto at = w.day_frees(now, 2, false);
    REQUIRE(at);
    CHECK(*at >= t0() + 24h);
    CHECK(*at <= t0() + 24h + 1min);
    // Recipients: 2 used, limit 3, a 2-recipient message needs the first to leave.
    const auto rcpt = w.day_frees(now, 3, true, 2);
    REQUIRE(rcpt);
    CHECK(*rcpt == *at);
    CHECK_FALSE(w.day_frees(now, 3, true, 4).has_value());  // can never fit
}

TEST_CASE("a release removes the reservation from its own bucket, even later") {
    UsageWindow w;
    w.add(t0(), 1, 5, t0());
    w.add(t0(), -1, -5, t0() + 10min);
    CHECK(w.day(t0() + 10min).messages == 0);
    CHECK(w.day(t0() + 10min).recipients == 0);
    // A release a day later changes nothing (the bucket is gone).
    w.add(t0() + 1h, 1, 1, t0() + 1h);
    w.add(t0() + 1h, -1, -1, t0() + 26h);
    CHECK(w.day(t0() + 26h).messages == 0);
}

TEST_CASE("a long silence clears the window; buckets round-trip") {
    UsageWindow w;
    for (int i = 0; i < 100; ++i)
        w.add(t0() + std::chrono::minutes(i * 7), 1, 2, t0() + std::chrono::minutes(i * 7));
    const WallTime now = t0() + 700min;
    const auto buckets = w.buckets(now);
    UsageWindow copy;
    for (const auto& [minute, usage] : buckets)
        copy.add(pool::start_of(minute), usage.messages, usage.recipients, now);
    CHECK(copy.day(now).messages == w.day(now).messages);
    CHECK(copy.day(now).recipients == 200);
    CHECK(w.day(now + 72h).messages == 0);
    CHECK_FALSE(w.oldest_leaves(now + 72h));
}
