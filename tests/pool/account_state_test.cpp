// The account state machine, every transition as a table row.
#include <doctest/doctest.h>

#include "pool/account.hpp"
#include "pool_test_util.hpp"

using namespace pool_test;
using pool::Event;
using pool::State;
using pool::StoredState;
using K = Event::Kind;

namespace {

StoredState in(State s, WallTime until = {}) {
    return StoredState{s, "before", t0() - 1h, until};
}

}  // namespace

TEST_CASE("transition table") {
    const WallTime now = t0();
    const WallTime later = now + 15min, much_later = now + 2h;
    struct Row {
        const char* name;
        StoredState from;
        Event event;
        State to;
        WallTime until;
    };
    const Row rows[] = {
        {"pause an active account", in(State::active), {K::pause, "", {}}, State::paused, {}},
        {"pause beats a cooldown", in(State::cooling_down, later), {K::pause, "", {}}, State::paused, {}},
        {"pause beats disabled", in(State::disabled), {K::pause, "", {}}, State::paused, {}},
        {"resume clears paused", in(State::paused), {K::resume, "", {}}, State::active, {}},
        {"resume clears disabled", in(State::disabled), {K::resume, "", {}}, State::active, {}},
        {"resume clears a gmail exhaustion",
         in(State::exhausted, much_later),
         {K::resume, "", {}},
         State::active,
         {}},
        {"resume clears a cooldown", in(State::cooling_down, later), {K::resume, "", {}}, State::active, {}},
        {"enable clears disabled", in(State::disabled), {K::enable, "", {}}, State::active, {}},
        {"enable keeps paused", in(State::paused), {K::enable, "", {}}, State::paused, {}},
        {"enable keeps a cooldown",
         in(State::cooling_down, later),
         {K::enable, "", {}},
         State::cooling_down,
         later},
        {"cool down an active account",
         in(State::active),
         {K::cool_down, "454", later},
         State::cooling_down,
         later},
        {"a cooldown is extended, never shortened",
         in(State::cooling_down, much_later),
         {K::cool_down, "421", later},
         State::cooling_down,
         much_later},
        {"exhaustion beats a cooldown",
         in(State::cooling_down, later),
         {K::exhaust, "550 5.4.5", much_later},
         State::exhausted,
         much_later},
        {"a cooldown does not shorten an exhaustion",
         in(State::exhausted, much_later),
         {K::cool_down, "421", later},
         State::exhausted,
         much_later},
        {"disable an active account", in(State::active), {K::disable, "535", {}}, State::disabled, {}},
        {"disable beats exhaustion",
         in(State::exhausted, much_later),
         {K::disable, "535", {}},
         State::disabled,
         {}},
        {"a paused account stays paused when blamed",
         in(State::paused),
         {K::disable, "535", {}},
         State::paused,
         {}},
        {"a disabled account is not cooled",
         in(State::disabled),
         {K::cool_down, "421", later},
         State::disabled,
         {}},
        {"expire: a cooldown over becomes active",
         in(State::cooling_down, now - 1s),
         {K::expire, "", {}},
         State::active,
         {}},
        {"expire: a running cooldown stays",
         in(State::cooling_down, later),
         {K::expire, "", {}},
         State::cooling_down,
         later},
        {"expire: disabled stays", in(State::disabled), {K::expire, "", {}}, State::disabled, {}},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        const StoredState got = pool::transition(row.from, row.event, now);
        CHECK(got.state == row.to);
        if (row.to == State::cooling_down || row.to == State::exhausted) CHECK(got.until == row.until);
    }
}

TEST_CASE("a new state records its reason and entry time; an unchanged one keeps them") {
    const StoredState cooled =
        pool::transition(in(State::active), Event{K::cool_down, "454 4.7.0 too many", t0() + 1h}, t0());
    CHECK(cooled.reason == "454 4.7.0 too many");
    CHECK(cooled.since == t0());
    const StoredState again = pool::transition(cooled, Event{K::pause, "", {}}, t0() + 1min);
    CHECK(again.since == t0() + 1min);
    CHECK(pool::transition(again, Event{K::pause, "", {}}, t0() + 2min) == again);
}

TEST_CASE("state names round-trip") {
    for (State s : {State::active, State::cooling_down, State::exhausted, State::disabled, State::paused}) {
        State back = State::active;
        REQUIRE(pool::parse_state(pool::to_string(s), back));
        CHECK(back == s);
    }
    State x;
    CHECK_FALSE(pool::parse_state("sleeping", x));
}

TEST_CASE("by_operator: the states a pause or a resume leaves, and no other") {
    // Shared state lets only these replace a pause (relay/redis_scripts.hpp).
    const WallTime now = t0();
    for (State from :
         {State::active, State::cooling_down, State::exhausted, State::disabled, State::paused}) {
        for (K kind : {K::pause, K::resume, K::enable, K::cool_down, K::exhaust, K::disable, K::expire}) {
            CAPTURE(pool::to_string(from));
            CAPTURE(static_cast<int>(kind));
            const StoredState before = in(from, now - 1min);
            const StoredState after = pool::transition(before, Event{kind, "454 4.7.0 later", now + 1h}, now);
            if (after == before) continue;  // no change, nothing recorded
            const bool expected = kind == K::pause || kind == K::resume;
            CHECK(pool::by_operator(pool::to_string(after.state), after.reason) == expected);
        }
    }
    CHECK(pool::by_operator("paused", "the account's password is being changed"));
    CHECK_FALSE(pool::by_operator("active", ""));
    CHECK_FALSE(pool::by_operator("active", "configuration reloaded"));
    CHECK_FALSE(pool::by_operator("cooling_down", "resumed by operator"));
}
