// The account state machine (see account.hpp): one transition function.
#include "pool/account.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace rp::pool {

namespace {

constexpr std::array<std::pair<State, std::string_view>, 5> kNames{{
    {State::active, "active"},
    {State::cooling_down, "cooling_down"},
    {State::exhausted, "exhausted"},
    {State::disabled, "disabled"},
    {State::paused, "paused"},
}};

// How much a state holds an account back; a blame never replaces a state
// that holds it back more (a disabled account does not become "cooling").
int weight(State s) {
    switch (s) {
        case State::active:
            return 0;
        case State::cooling_down:
            return 1;
        case State::exhausted:
            return 2;
        case State::disabled:
            return 3;
        case State::paused:
            return 4;
    }
    return 0;
}

StoredState enter(State s, std::string reason, WallTime now, WallTime until = {}) {
    return StoredState{s, std::move(reason), now, until};
}

StoredState blame(const StoredState& current, State target, const Event& e, WallTime now) {
    if (weight(current.state) > weight(target)) return current;
    if (current.state == target) {
        // Same state again: extend, never shorten; keep the entry time.
        StoredState next = current;
        if (e.until > next.until) {
            next.until = e.until;
            next.reason = e.reason;
        }
        return next;
    }
    return enter(target, e.reason, now, e.until);
}

}  // namespace

std::string_view to_string(State s) {
    for (const auto& [state, name] : kNames)
        if (state == s) return name;
    return "active";
}

bool parse_state(std::string_view text, State& out) {
    for (const auto& [state, name] : kNames)
        if (name == text) {
            out = state;
            return true;
        }
    return false;
}

bool by_operator(std::string_view state, std::string_view reason) {
    return state == to_string(State::paused) ||
           (state == to_string(State::active) && reason == kResumedByOperator);
}

StoredState transition(const StoredState& current, const Event& e, WallTime now) {
    using K = Event::Kind;
    switch (e.kind) {
        case K::pause:
            if (current.state == State::paused) return current;
            return enter(State::paused, e.reason.empty() ? "paused by operator" : e.reason, now);
        case K::resume:
            if (current.state == State::active) return current;
            return enter(State::active, std::string(kResumedByOperator), now);
        case K::enable:
            if (current.state != State::disabled) return current;
            return enter(State::active, "configuration reloaded", now);
        case K::cool_down:
            return blame(current, State::cooling_down, e, now);
        case K::exhaust:
            return blame(current, State::exhausted, e, now);
        case K::disable:
            if (current.state == State::paused || current.state == State::disabled) return current;
            return enter(State::disabled, e.reason, now);
        case K::expire:
            if ((current.state == State::cooling_down || current.state == State::exhausted) &&
                current.until <= now)
                return enter(State::active, "", current.until);
            return current;
    }
    return current;
}

}  // namespace rp::pool
