// Scheduler (pure queue index): due-time ordering, the bounded active
// window, held messages and wakeups, operator retry/delete, depth counts.
// (The account pool's tests are tests/pool/.)
#include <doctest/doctest.h>

#include "relay/scheduler.hpp"

using namespace rp;
using relay::Disposition;
using relay::Scheduler;
using spool::MessageSummary;
using namespace std::chrono_literals;

namespace {

const WallTime T0 = WallTime{} + std::chrono::hours(24 * 365 * 56);

MessageSummary msg(std::string id, WallTime due = {}, WallTime arrival = T0) {
    MessageSummary s;
    s.id = std::move(id);
    s.arrival = arrival;
    s.next_attempt = due;
    s.recipients_total = s.recipients_pending = 1;
    return s;
}

}  // namespace

TEST_CASE("scheduler: due messages come out in due-time order, future ones wait") {
    Scheduler s(10);
    s.add(msg("c", T0 + 3s));
    s.add(msg("a", T0 + 1s));
    s.add(msg("b", T0 + 2s));
    s.add(msg("later", T0 + 1h));
    s.add(msg("a", T0));  // duplicate id: ignored
    CHECK(s.size() == 4);
    CHECK(s.take_due(T0, 10).empty());
    CHECK(s.take_due(T0 + 5s, 10) == std::vector<std::string>{"a", "b", "c"});
    CHECK(s.next_due() == T0 + 1h);
    CHECK(s.active() == 3);
}

TEST_CASE("scheduler: the active window and the caller's limit bound take_due") {
    struct Row {
        std::size_t window, limit, queued, expect;
    };
    for (Row r : {Row{2, 100, 10, 2}, Row{5, 3, 10, 3}, Row{5, 100, 4, 4}, Row{1, 0, 3, 0}}) {
        CAPTURE(r.window);
        CAPTURE(r.limit);
        Scheduler s(r.window);
        for (std::size_t i = 0; i < r.queued; ++i) s.add(msg("m" + std::to_string(i)));
        CHECK(s.take_due(T0, r.limit).size() == r.expect);
        CHECK(s.active() == r.expect);
    }
    Scheduler s(2);
    for (int i = 0; i < 5; ++i) s.add(msg("m" + std::to_string(i)));
    auto first = s.take_due(T0, 10);
    REQUIRE(first.size() == 2);
    CHECK(s.take_due(T0, 10).empty());  // window full
    s.finished(first[0], {Disposition::Kind::removed, {}});
    CHECK(s.take_due(T0, 10).size() == 1);  // one slot freed
    CHECK(s.size() == 4);
}

TEST_CASE("scheduler: dispositions") {
    Scheduler s(10);
    s.add(msg("m"));
    REQUIRE(s.take_due(T0, 1).size() == 1);

    SUBCASE("removed forgets the message") {
        s.finished("m", {Disposition::Kind::removed, {}});
        CHECK_FALSE(s.contains("m"));
        CHECK_FALSE(s.oldest_arrival());
    }
    SUBCASE("due_at waits, counted as deferred") {
        s.finished("m", {Disposition::Kind::due_at, T0 + 1min});
        CHECK(s.depth().deferred == 1);
        CHECK(s.take_due(T0 + 59s, 10).empty());
        CHECK(s.take_due(T0 + 1min, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("held waits for wake_held, at the latest until its expiry") {
        s.finished("m", {Disposition::Kind::held, T0 + 24h});
        CHECK(s.held() == 1);
        CHECK(s.take_due(T0 + 1h, 10).empty());
        CHECK(s.wake_held(T0 + 1h, 10) == 1);
        CHECK(s.held() == 0);
        CHECK(s.take_due(T0 + 1h, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("held messages come out at their expiry even without a wake") {
        s.finished("m", {Disposition::Kind::held, T0 + 24h});
        CHECK(s.take_due(T0 + 24h, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("busy is parked until a send finishes, counted as ready") {
        s.finished("m", {Disposition::Kind::busy, T0});
        CHECK(s.depth().ready == 1);
        CHECK(s.depth().deferred == 0);
        CHECK(s.take_due(T0 + 1h, 10).empty());  // not taken again by itself: no busy loop
        CHECK(s.wake_parked(T0 + 1h) == 1);
        CHECK(s.take_due(T0 + 1h, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("a parked message can be retried or deleted") {
        s.finished("m", {Disposition::Kind::busy, T0});
        CHECK(s.make_due("m", T0));
        CHECK(s.wake_parked(T0) == 0);
        CHECK(s.take_due(T0, 10) == std::vector<std::string>{"m"});
    }
}

TEST_CASE("scheduler: a wake frees as many held messages as it is told, oldest first") {
    Scheduler s(10);
    for (int i = 0; i < 5; ++i) s.add(msg("m" + std::to_string(i), {}, T0 + std::chrono::minutes(i)));
    const auto taken = s.take_due(T0, 10);
    REQUIRE(taken.size() == 5);
    for (int i = 0; i < 5; ++i)
        s.finished("m" + std::to_string(i), {Disposition::Kind::held, T0 + 24h + std::chrono::minutes(i)});
    CHECK(s.held() == 5);
    CHECK(s.wake_held(T0 + 1h, 2) == 2);
    CHECK(s.held() == 3);
    CHECK(s.take_due(T0 + 1h, 10) == std::vector<std::string>{"m0", "m1"});
    CHECK(s.wake_held(T0 + 2h, 0) == 0);
}

TEST_CASE("scheduler: operator retry and delete") {
    Scheduler s(10);
    s.add(msg("a", T0 + 1h));
    s.add(msg("b", T0 + 2h));
    s.add(msg("c"));
    CHECK(s.make_due("a", T0));
    CHECK_FALSE(s.make_due("nope", T0));
    auto active = s.take_due(T0, 10);
    CHECK(active.size() == 2);         // a and c
    CHECK_FALSE(s.make_due("a", T0));  // active
    CHECK_FALSE(s.erase("a"));         // active
    CHECK(s.make_all_due(T0) == 1);    // b
    CHECK(s.erase("b"));
    CHECK_FALSE(s.contains("b"));
    CHECK(s.size() == 2);
}

TEST_CASE("scheduler: depth and the oldest arrival") {
    Scheduler s(1);
    s.add(msg("new", {}, T0 + 10s));
    s.add(msg("old", {}, T0));
    auto d = s.depth();
    CHECK(d.ready == 2);
    CHECK(d.active == 0);
    CHECK(s.oldest_arrival() == T0);
    auto first = s.take_due(T0 + 20s, 10);
    REQUIRE(first.size() == 1);
    d = s.depth();
    CHECK(d.ready == 1);
    CHECK(d.active == 1);
    s.finished(first[0], {Disposition::Kind::removed, {}});
    CHECK(s.size() == 1);
}

TEST_CASE("scheduler: 100k queued messages, the window still holds only max_active") {
    Scheduler s(8);
    for (int i = 0; i < 100000; ++i) s.add(msg("m" + std::to_string(i)));
    CHECK(s.take_due(T0, 1000000).size() == 8);
    CHECK(s.depth().ready == 100000 - 8);
}
