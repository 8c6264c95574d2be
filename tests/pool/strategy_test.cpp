// Pick strategies: round-robin, least-used, sticky; connection slots; limits
// under interleaved reservations.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "pool_test_util.hpp"

using namespace pool_test;
using config::Strategy;

TEST_CASE("round-robin visits every account in turn and skips unusable ones") {
    pool::Pool p(accounts(3), options());
    std::vector<std::string> order;
    for (int i = 0; i < 6; ++i) order.push_back(send(p, t0()));
    CHECK(order == std::vector<std::string>{"a0@pool.test", "a1@pool.test", "a2@pool.test", "a0@pool.test",
                                            "a1@pool.test", "a2@pool.test"});
    REQUIRE(p.pause("a1@pool.test", t0()));
    CHECK(send(p, t0()) == "a0@pool.test");
    CHECK(send(p, t0()) == "a2@pool.test");
    CHECK(send(p, t0()) == "a0@pool.test");
}

TEST_CASE("least-used picks the account with the fewest sends in 24 h, ties by name") {
    auto list = accounts(3);
    list[0].username = "c@pool.test";
    list[1].username = "a@pool.test";
    list[2].username = "b@pool.test";
    pool::Pool p(list, options(Strategy::least_used));
    CHECK(send(p, t0()) == "a@pool.test");  // all at 0: by name
    CHECK(send(p, t0()) == "b@pool.test");
    CHECK(send(p, t0()) == "c@pool.test");
    CHECK(send(p, t0()) == "a@pool.test");
    // a is paused: b and c share the load evenly.
    REQUIRE(p.pause("a@pool.test", t0()));
    std::map<std::string, int> spread;
    for (int i = 0; i < 20; ++i) ++spread[send(p, t0())];
    CHECK(spread["b@pool.test"] == 10);
    CHECK(spread["c@pool.test"] == 10);
}

TEST_CASE("sticky keeps a recipient on its account while usable, then moves it on") {
    pool::Pool p(accounts(3), options(Strategy::sticky));
    const std::string first = send(p, t0(), 1, "Alice@Example.COM");
    for (int i = 0; i < 5; ++i) {
        send(p, t0(), 1, "bob@example.com");                    // other traffic moves the cursor
        CHECK(send(p, t0(), 1, "alice@example.com") == first);  // case-insensitive
    }
    REQUIRE(p.pause(first, t0()));
    const std::string moved = send(p, t0(), 1, "alice@example.com");
    CHECK(!moved.empty());
    CHECK(moved != first);
    REQUIRE(p.resume(first, t0()));
    CHECK(send(p, t0(), 1, "alice@example.com") == moved);  // stays where it moved
}

TEST_CASE("sticky memory is bounded") {
    auto o = options(Strategy::sticky);
    o.sticky_capacity = 2;
    pool::Pool p(accounts(3), o);
    const std::string a = send(p, t0(), 1, "one@x");
    send(p, t0(), 1, "two@x");
    send(p, t0(), 1, "three@x");  // "one@x" is forgotten
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i) seen.insert(send(p, t0(), 1, "one@x"));
    CHECK(seen.size() >= 1);  // remembered again from its new pick on
    CHECK(send(p, t0(), 1, "one@x") == send(p, t0(), 1, "one@x"));
}

TEST_CASE("connection slots: busy when every usable account is at its limit") {
    pool::Pool p(accounts(2), options(Strategy::round_robin, 1));
    auto r1 = p.reserve(1, "", t0());
    auto r2 = p.reserve(1, "", t0());
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(p.free_slots(t0()) == 0);
    auto r3 = p.reserve(1, "", t0());
    CHECK_FALSE(r3);
    CHECK(r3.busy);
    p.settle(r1, 1, t0());
    CHECK(p.free_slots(t0()) == 1);
    CHECK(p.reserve(1, "", t0()));
}

TEST_CASE("interleaved reservations never exceed a limit, and releases give room back") {
    pool::Pool p({account("only@pool.test", 5, 8)}, options(Strategy::round_robin, 10));
    std::vector<pool::Reservation> open;
    for (int i = 0; i < 10; ++i)
        if (auto r = p.reserve(3, "", t0())) open.push_back(r);
    // 8 recipients: 3 + 3 + 2, then no room.
    REQUIRE(open.size() == 3);
    CHECK(open[2].recipients == 2);
    CHECK_FALSE(p.any_usable(t0()));
    p.settle(open[0], 0, t0());  // nothing sent: room for 3 again
    CHECK(p.any_usable(t0()));
    p.settle(open[1], 1, t0());  // 1 of 3 delivered: 2 more
    auto r = p.reserve(5, "", t0());
    REQUIRE(r);
    CHECK(r.recipients == 5);
    CHECK(status_of(p, "only@pool.test", t0()).day.recipients == 8);
    CHECK(status_of(p, "only@pool.test", t0()).day.messages == 3);
}

TEST_CASE("daily, hourly and recipient limits make an account exhausted until the window frees") {
    pool::Pool p({account("h@pool.test", 100, 0, 2)}, options());
    CHECK(send(p, t0()) == "h@pool.test");
    CHECK(send(p, t0() + 10min) == "h@pool.test");
    CHECK(send(p, t0() + 20min).empty());
    auto s = status_of(p, "h@pool.test", t0() + 20min);
    CHECK(s.state == pool::State::exhausted);
    REQUIRE(s.until);
    CHECK(*s.until > t0() + 1h - 1s);
    CHECK(*s.until <= t0() + 1h + 1min);
    CHECK(p.next_change(t0() + 20min) == s.until);
    CHECK(send(p, *s.until) == "h@pool.test");
}

TEST_CASE("blame: cooldown, Gmail exhaustion, disable, the sending IP") {
    pool::Pool p(accounts(3), options());
    const auto a0 = *p.find("a0@pool.test");
    const auto a1 = *p.find("a1@pool.test");
    send(p, t0() - 5h);  // a0 sent 5 h ago
    p.blame(a0, pool::Blame::exhaust, "550 5.4.5 Daily user sending limit exceeded", t0());
    auto s = status_of(p, "a0@pool.test", t0());
    CHECK(s.state == pool::State::exhausted);
    REQUIRE(s.until);
    CHECK(*s.until <= t0() + 19h + 1min);  // when its oldest send turns 24 h old
    CHECK(*s.until >= t0() + 19h);
    p.blame(a1, pool::Blame::disable, "535 5.7.8 Username and Password not accepted", t0());
    CHECK(status_of(p, "a1@pool.test", t0()).state == pool::State::disabled);
    CHECK(status_of(p, "a1@pool.test", t0()).reason == "535 5.7.8 Username and Password not accepted");
    CHECK(send(p, t0()) == "a2@pool.test");
    p.blame(0, pool::Blame::ip_cool_down, "421 4.7.0 unusual rate from your IP", t0());
    CHECK_FALSE(p.any_usable(t0()));
    CHECK(status_of(p, "a2@pool.test", t0()).state == pool::State::cooling_down);
    CHECK(send(p, t0() + 15min) == "a2@pool.test");
    // resume clears a Gmail exhaustion and a disable, never the limits
    REQUIRE(p.resume("a0@pool.test", t0() + 15min));
    REQUIRE(p.resume("a1@pool.test", t0() + 15min));
    CHECK(status_of(p, "a0@pool.test", t0() + 15min).state == pool::State::active);
    CHECK(status_of(p, "a1@pool.test", t0() + 15min).state == pool::State::active);
}

TEST_CASE("reload: added accounts take mail, removed ones stop, re-added keep their usage") {
    pool::Pool p(accounts(2, 3), options());
    for (int i = 0; i < 4; ++i) send(p, t0());
    auto list = accounts(2, 3);
    list.erase(list.begin());                     // a0 removed
    list.push_back(account("new@pool.test", 3));  // added
    auto r = p.reload(list, options(), t0());
    CHECK(r.removed == std::vector<std::string>{"a0@pool.test"});
    CHECK(r.added == std::vector<std::string>{"new@pool.test"});
    std::set<std::string> used;
    for (int i = 0; i < 4; ++i) used.insert(send(p, t0()));
    CHECK(used.count("a0@pool.test") == 0);
    CHECK(used.count("new@pool.test") == 1);
    CHECK(p.size() == 2);
    p.reload(accounts(2, 3), options(), t0());  // a0 back: its 2 sends still count
    CHECK(status_of(p, "a0@pool.test", t0()).day.messages == 2);
    CHECK(p.credentials(*p.find("a0@pool.test"))->password == "secret-a0@pool.test");
}
