// Scheduler (pure queue index) and AccountSelector (pure account seam):
// due-time ordering, the bounded active window, held messages and wakeups,
// operator retry/delete, depth counts; round-robin, rolling limits,
// reservations, cooldown / disable / exhaustion and resume.
#include <doctest/doctest.h>

#include "relay/account_selector.hpp"
#include "relay/scheduler.hpp"

using namespace rp;
using relay::Disposition;
using relay::MessageSummary;
using relay::Scheduler;
using relay::WallTime;
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

config::Account acc(std::string name, std::uint32_t daily = 0, std::uint32_t rcpt = 0,
                    std::uint32_t hourly = 0) {
    config::Account a;
    a.username = std::move(name);
    a.daily_limit = daily;
    a.daily_recipient_limit = rcpt;
    a.hourly_limit = hourly;
    return a;
}

protocol::UpstreamOutcome out(int code, std::string enh, std::string text = "x") {
    return {protocol::Stage::auth, code, std::move(enh), std::move(text), protocol::LocalFailure::none};
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
        CHECK(s.wake_held(T0 + 1h) == 1);
        CHECK(s.held() == 0);
        CHECK(s.take_due(T0 + 1h, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("held messages come out at their expiry even without a wake") {
        s.finished("m", {Disposition::Kind::held, T0 + 24h});
        CHECK(s.take_due(T0 + 24h, 10) == std::vector<std::string>{"m"});
    }
    SUBCASE("busy is ready again, not deferred") {
        s.finished("m", {Disposition::Kind::busy, T0});
        CHECK(s.depth().ready == 1);
        CHECK(s.depth().deferred == 0);
    }
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

// ---- AccountSelector ---------------------------------------------------

TEST_CASE("selector: round-robin over usable accounts, skipping excluded ones") {
    relay::AccountSelector sel({acc("a"), acc("b"), acc("c")}, {15min, 10});
    std::vector<std::string> order;
    for (int i = 0; i < 6; ++i) {
        auto p = sel.pick(1, {}, T0);
        REQUIRE(p);
        order.push_back(p.account->username);
        sel.settle(p, 1, T0);
    }
    CHECK(order == std::vector<std::string>{"a", "b", "c", "a", "b", "c"});
    auto p = sel.pick(1, {"a", "b"}, T0);
    REQUIRE(p);
    CHECK(p.account->username == "c");
}

TEST_CASE("selector: connections_per_account limits picks in flight (busy, not unusable)") {
    relay::AccountSelector sel({acc("a")}, {15min, 2});
    auto p1 = sel.pick(1, {}, T0);
    auto p2 = sel.pick(1, {}, T0);
    auto p3 = sel.pick(1, {}, T0);
    CHECK(p1);
    CHECK(p2);
    CHECK_FALSE(p3);
    CHECK(p3.busy);
    CHECK(sel.any_usable(T0));
    CHECK(sel.free_slots(T0) == 0);
    sel.settle(p1, 0, T0);
    CHECK(sel.free_slots(T0) == 1);
}

TEST_CASE("selector: limits over rolling windows, reservations count, failures release") {
    SUBCASE("daily_limit") {
        relay::AccountSelector sel({acc("a", 2)}, {15min, 10});
        auto p1 = sel.pick(1, {}, T0);
        auto p2 = sel.pick(1, {}, T0 + 1h);
        CHECK_FALSE(sel.pick(1, {}, T0 + 1h));  // two reserved in flight
        sel.settle(p1, 0, T0 + 1h);             // nothing was sent: released
        auto p3 = sel.pick(1, {}, T0 + 1h);
        REQUIRE(p3);
        sel.settle(p2, 1, T0 + 1h);
        sel.settle(p3, 1, T0 + 1h);
        CHECK_FALSE(sel.any_usable(T0 + 2h));
        CHECK(sel.status(T0 + 2h)[0].state == relay::AccountState::exhausted);
        CHECK(sel.status(T0 + 2h)[0].sent_24h == 2);
        CHECK(sel.next_change(T0 + 2h) == T0 + 25h);
        CHECK(sel.any_usable(T0 + 25h));
    }
    SUBCASE("hourly_limit") {
        relay::AccountSelector sel({acc("a", 0, 0, 1)}, {15min, 10});
        sel.settle(sel.pick(1, {}, T0), 1, T0);
        CHECK_FALSE(sel.any_usable(T0 + 59min));
        CHECK(sel.any_usable(T0 + 60min));
    }
    SUBCASE("daily_recipient_limit: a pick carries only what fits") {
        relay::AccountSelector sel({acc("a", 0, 5)}, {15min, 10});
        auto p = sel.pick(3, {}, T0);
        CHECK(p.recipients == 3);
        sel.settle(p, 3, T0);
        p = sel.pick(10, {}, T0);
        CHECK(p.recipients == 2);
        sel.settle(p, 2, T0);
        CHECK_FALSE(sel.pick(1, {}, T0));
        CHECK(sel.status(T0)[0].recipients_24h == 5);
    }
}

TEST_CASE("selector: verdicts and their consequences") {
    using protocol::Verdict;
    relay::AccountSelector sel({acc("a"), acc("b")}, {15min, 10});
    SUBCASE("cooldown for cooldown_temporary") {
        sel.report("a", Verdict::account_cooldown, out(454, "4.7.0"), T0);
        CHECK(sel.status(T0)[0].state == relay::AccountState::cooling_down);
        CHECK(sel.status(T0)[0].until == T0 + 15min);
        CHECK(sel.pick(1, {}, T0).account->username == "b");
        CHECK(sel.status(T0 + 15min)[0].state == relay::AccountState::active);
    }
    SUBCASE("disabled until resumed") {
        sel.report("a", Verdict::account_disabled, out(535, "5.7.8", "bad credentials"), T0);
        CHECK(sel.status(T0 + 100h)[0].state == relay::AccountState::disabled);
        CHECK(sel.status(T0)[0].last_error == "535 5.7.8 bad credentials");
        CHECK(sel.resume("a"));
        CHECK(sel.status(T0)[0].state == relay::AccountState::active);
    }
    SUBCASE("Gmail exhaustion: until the oldest send of the last 24h is 24h old") {
        sel.settle(sel.pick(1, {"b"}, T0), 1, T0);
        sel.report("a", Verdict::account_exhausted, out(550, "5.4.5"), T0 + 2h);
        CHECK(sel.status(T0 + 2h)[0].state == relay::AccountState::exhausted);
        CHECK(sel.status(T0 + 2h)[0].until == T0 + 24h);
        CHECK(sel.status(T0 + 24h)[0].state == relay::AccountState::active);
    }
    SUBCASE("IP cooldown cools every account") {
        sel.report("a", Verdict::ip_cooldown, out(421, "4.7.0"), T0);
        CHECK_FALSE(sel.any_usable(T0));
        CHECK(sel.next_change(T0) == T0 + 15min);
    }
    SUBCASE("pause and resume; unknown names") {
        CHECK(sel.pause("a"));
        CHECK(sel.status(T0)[0].state == relay::AccountState::paused);
        CHECK_FALSE(sel.pause("zz"));
        CHECK_FALSE(sel.resume("zz"));
        sel.report("zz", Verdict::account_disabled, out(535, "5.7.8"), T0);  // ignored
        CHECK(sel.resume("a"));
        CHECK(sel.any_usable(T0));
    }
    SUBCASE("resume never lifts a configured limit") {
        relay::AccountSelector one({acc("a", 1)}, {15min, 10});
        one.settle(one.pick(1, {}, T0), 1, T0);
        CHECK(one.resume("a"));
        CHECK_FALSE(one.pick(1, {}, T0));
    }
}

TEST_CASE("selector: reload takes new credentials and limits, enables disabled accounts, keeps usage") {
    using protocol::Verdict;
    relay::AccountSelector sel({acc("a", 1), acc("b")}, {15min, 10});
    sel.settle(sel.pick(1, {}, T0), 1, T0);  // a: 1 of 1 sent
    sel.report("b", Verdict::account_disabled, out(535, "5.7.8"), T0);
    CHECK_FALSE(sel.any_usable(T0));

    auto a = acc("a", 2);
    a.password = "new";
    auto r = sel.reload({a, acc("b"), acc("c")});
    CHECK(r.updated == 2);
    CHECK(r.ignored_added == std::vector<std::string>{"c"});
    CHECK(r.ignored_removed.empty());
    const auto st = sel.status(T0);
    CHECK(st[0].sent_24h == 1);  // usage survives
    CHECK(st[0].daily_limit == 2);
    CHECK(st[0].state == relay::AccountState::active);
    CHECK(st[1].state == relay::AccountState::active);  // b enabled again
    auto p = sel.pick(1, {"b"}, T0);
    REQUIRE(p);
    CHECK(p.account->password == "new");

    r = sel.reload({acc("a")});
    CHECK(r.ignored_removed == std::vector<std::string>{"b"});
}
