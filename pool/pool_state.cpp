// Pool persistence: the records the pool writes to pool.state and how they
// are read back (docs/pool.md has the format as operators see it).
//
//   H relaypool-pool-state 1 <written_ms> <next_reservation>   snapshot header
//   B <account> <minute> <messages> <recipients>               usage bucket
//   X <account> <state> <since_ms> <until_ms> <reason>         stored state
//   R <id> <account> <at_ms> <recipients>    in flight at the snapshot (already in B)
//   P <account>                                                round-robin: last picked
//   S <id> <account> <at_ms> <recipients>    reserved: counts as sent until settled
//   C <id> <delivered_recipients>            settled (0 = released, nothing sent)
//
// A reservation never settled (a crash mid-send) stays counted in full.
#include <charconv>

#include "pool/pool.hpp"

namespace rp::pool {

namespace {

std::int64_t ms_of(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime at_ms(std::int64_t ms) {
    return WallTime{std::chrono::milliseconds(ms)};
}

// A field as a number in [0, 2^42]: unix milliseconds (until the year 2109),
// counts, ids. Anything else (a damaged or hostile file) is skipped: it could
// not come from this writer, and larger values would overflow the time
// arithmetic (system_clock counts nanoseconds).
constexpr std::int64_t kMaxField = std::int64_t{1} << 42;
bool number(const std::string& s, std::int64_t& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size() && out >= 0 && out <= kMaxField;
}

// A bucket's minute, within the same range as the millisecond fields.
bool minute_number(const std::string& s, std::int64_t& out) {
    return number(s, out) && out <= kMaxField / 60000;
}

}  // namespace

std::string Pool::snapshot(WallTime now) {
    std::string out = record(
        {"H", "relaypool-pool-state", "1", std::to_string(ms_of(now)), std::to_string(next_reservation_)});
    for (auto& a : accounts_) {
        for (const auto& [minute, usage] : a.window.buckets(now))
            out += record({"B", a.settings.username, std::to_string(minute), std::to_string(usage.messages),
                           std::to_string(usage.recipients)});
        const StoredState s = transition(a.stored, Event{Event::Kind::expire, "", {}}, now);
        if (s.state != State::active)
            out += record({"X", a.settings.username, to_string(s.state), std::to_string(ms_of(s.since)),
                           std::to_string(ms_of(s.until)), s.reason});
    }
    for (const auto& [id, f] : in_flight_)
        out += record({"R", std::to_string(id), accounts_[f.account].settings.username,
                       std::to_string(ms_of(f.at)), std::to_string(f.recipients)});
    if (cursor_ > 0 && cursor_ <= accounts_.size())
        out += record({"P", accounts_[cursor_ - 1].settings.username});
    journal_since_snapshot_ = 0;
    return out;
}

void Pool::restore(const ParsedState& state, WallTime now) {
    std::unordered_map<std::uint64_t, InFlight> open;  // S/R not yet settled
    auto account = [&](const std::string& name) -> AccountId {
        if (auto id = find(name)) return *id;
        config::Account ghost;
        ghost.username = name;
        add_account(std::move(ghost)).configured = false;
        return static_cast<AccountId>(accounts_.size() - 1);
    };
    for (const auto& f : state.records) {
        if (f.empty()) continue;  // (parse_state never yields one; records may come from elsewhere)
        const std::string& kind = f[0];
        std::int64_t a = 0, b = 0, c = 0;
        if (kind == "H" && f.size() >= 5 && number(f[4], a)) {
            next_reservation_ = std::max<std::uint64_t>(next_reservation_, static_cast<std::uint64_t>(a));
        } else if (kind == "B" && f.size() == 5 && minute_number(f[2], a) && number(f[3], b) &&
                   number(f[4], c)) {
            accounts_[account(f[1])].window.add(start_of(a), b, c, now);
        } else if (kind == "X" && f.size() == 6 && number(f[3], a) && number(f[4], b)) {
            StoredState s{State::active, f[5], at_ms(a), at_ms(b)};
            if (parse_state(f[2], s.state)) accounts_[account(f[1])].stored = s;
        } else if ((kind == "S" || kind == "R") && f.size() == 5 && number(f[1], a) && number(f[3], b) &&
                   number(f[4], c)) {
            const AccountId id = account(f[2]);
            if (kind == "S") {
                accounts_[id].window.add(at_ms(b), 1, c, now);
                cursor_ = id + 1;
            }
            open[static_cast<std::uint64_t>(a)] = InFlight{id, at_ms(b), static_cast<std::uint32_t>(c)};
            next_reservation_ = std::max<std::uint64_t>(next_reservation_, static_cast<std::uint64_t>(a) + 1);
        } else if (kind == "C" && f.size() == 3 && number(f[1], a) && number(f[2], b)) {
            auto it = open.find(static_cast<std::uint64_t>(a));
            if (it == open.end()) continue;
            const InFlight r = it->second;
            open.erase(it);
            const auto kept = std::min<std::int64_t>(b, r.recipients);
            if (kept == 0)
                accounts_[r.account].window.add(r.at, -1, -static_cast<std::int64_t>(r.recipients), now);
            else
                accounts_[r.account].window.add(r.at, 0, kept - r.recipients, now);
        } else if (kind == "P" && f.size() == 2) {
            cursor_ = account(f[1]) + 1;
        }
        // Anything else (a newer version's record) is skipped.
    }
}

void Pool::assume_full(WallTime last_write, const std::string& why, WallTime now) {
    const WallTime until = last_write + std::chrono::hours(24);
    for (AccountId id = 0; id < accounts_.size(); ++id)
        apply(id, Event{Event::Kind::exhaust, why, until}, now);
}

}  // namespace rp::pool
