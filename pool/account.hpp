// One pool account: its settings (replaceable by a reload), its named state
// with reason and entry time, its usage window and its in-flight sends.
//
// States (the stored ones; `exhausted` by configured limits is derived from
// the usage window on top, see Pool::state_of):
//   active        usable (subject to its limits)
//   cooling_down  `until`: after 421/454-style refusals (account or sending IP)
//   exhausted     `until`: Gmail said 550 5.4.5, or pool.state was unreadable
//   disabled      bad credentials (535/534, a token endpoint 4xx): an
//                 operator resumes it, or a reload with new settings does
//   paused        by an operator
// Every change goes through transition(): one place decides which event
// wins over which state (pause beats everything, a resume clears all, a
// blame never shortens a state already in force).
// Pure: no I/O, no clock. Used by pool/ only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "pool/window.hpp"

namespace rp::pool {

enum class State { active, cooling_down, exhausted, disabled, paused };
std::string_view to_string(State s);
bool parse_state(std::string_view text, State& out);

// Whether a recorded state change, (state, reason), was an operator's: a
// pause, or a resume. Only those may replace a pause in the shared state; a
// change the relay made by itself (a blame, an expiry, a reload's enable)
// was decided from a view that may predate the pause.
inline constexpr std::string_view kResumedByOperator = "resumed by operator";
bool by_operator(std::string_view state, std::string_view reason);

struct StoredState {
    State state = State::active;
    std::string reason;  // why it entered the state ("535 5.7.8 ...", "paused by operator")
    WallTime since{};
    WallTime until{};  // cooling_down and exhausted only
    bool operator==(const StoredState&) const = default;
};

// What happened to an account; the input of transition().
struct Event {
    enum class Kind {
        pause,
        resume,     // operator: clears every state
        enable,     // reload with the account present: clears `disabled` only
        cool_down,  // until `until`
        exhaust,    // until `until`
        disable,
        expire,  // time passed: a cooling_down/exhausted whose `until` is over becomes active
    };
    Kind kind;
    std::string reason;
    WallTime until{};
};

// Applies `event` to `current` at `now`; returns the new stored state (equal
// to `current` when nothing changes).
StoredState transition(const StoredState& current, const Event& event, WallTime now);

struct Account {
    config::Account settings;  // credentials and limits; replaced on reload
    bool configured = true;    // false: removed by a reload (kept for its usage; no new sends)
    StoredState stored;
    UsageWindow window;
    std::uint32_t in_flight = 0;
    std::string last_error;
};

}  // namespace rp::pool
