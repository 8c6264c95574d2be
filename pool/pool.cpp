// Pool: strategies, limits, states (see pool.hpp for the invariants). The
// persistence half (journal records, snapshot, restore) is pool_state.cpp.
#include "pool/pool.hpp"

#include <algorithm>
#include <limits>

namespace rp::pool {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace

Pool::Pool(std::vector<config::Account> accounts, Options options) : options_(std::move(options)) {
    if (options_.connections_per_account == 0) options_.connections_per_account = 1;
    accounts_.reserve(accounts.size());
    for (auto& a : accounts) add_account(std::move(a));
}

Account& Pool::add_account(config::Account settings) {
    const auto id = static_cast<AccountId>(accounts_.size());
    by_name_[settings.username] = id;
    Account& a = accounts_.emplace_back();
    a.settings = std::move(settings);
    return a;
}

std::size_t Pool::size() const {
    return static_cast<std::size_t>(
        std::count_if(accounts_.begin(), accounts_.end(), [](const Account& a) { return a.configured; }));
}

std::optional<AccountId> Pool::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return std::nullopt;
    return it->second;
}

std::optional<config::Account> Pool::credentials(AccountId id) const {
    if (id >= accounts_.size()) return std::nullopt;
    return accounts_[id].settings;
}

// ---- state and limits -------------------------------------------------------

void Pool::apply(AccountId id, const Event& e, WallTime now) {
    Account& a = accounts_[id];
    const StoredState next = transition(a.stored, e, now);
    if (next == a.stored) return;
    a.stored = next;
    journal(record({"X", a.settings.username, to_string(a.stored.state),
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       a.stored.since.time_since_epoch())
                                       .count()),
                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       a.stored.until.time_since_epoch())
                                       .count()),
                    a.stored.reason}));
}

State Pool::state_of(Account& a, WallTime now) {
    const bool timed = a.stored.state == State::cooling_down || a.stored.state == State::exhausted;
    if (timed && a.stored.until <= now)
        a.stored = transition(a.stored, Event{Event::Kind::expire, "", {}}, now);
    if (a.stored.state != State::active) return a.stored.state;
    const Limits l = effective_limits(a.settings, options_.warmup, now);
    const Usage day = a.window.day(now);
    if (day.messages >= l.daily) return State::exhausted;
    if (l.recipients != 0 && day.recipients >= l.recipients) return State::exhausted;
    if (l.hourly != 0 && a.window.hour(now).messages >= l.hourly) return State::exhausted;
    return State::active;
}

std::size_t Pool::recipient_room(Account& a, WallTime now) {
    const Limits l = effective_limits(a.settings, options_.warmup, now);
    if (l.recipients == 0) return std::numeric_limits<std::size_t>::max();
    const std::uint32_t used = a.window.day(now).recipients;
    return used >= l.recipients ? 0 : l.recipients - used;
}

bool Pool::can_take(Account& a, WallTime now) {
    return a.configured && state_of(a, now) == State::active && recipient_room(a, now) > 0;
}

std::optional<WallTime> Pool::usable_again(Account& a, WallTime now) {
    if (!a.configured) return std::nullopt;
    const State s = state_of(a, now);
    if (s == State::active || s == State::paused || s == State::disabled) return std::nullopt;
    WallTime t = s == a.stored.state ? a.stored.until : now;  // a stored timed state, or limits only
    const Limits l = effective_limits(a.settings, options_.warmup, now);
    for (auto frees : {a.window.day_frees(now, l.daily, false), a.window.hour_frees(now, l.hourly),
                       a.window.day_frees(now, l.recipients, true)})
        if (frees) t = std::max(t, *frees);
    if (t <= now) t = now + std::chrono::minutes(1);  // a ramp day may change the limits: look again soon
    return t;
}

// ---- strategies -------------------------------------------------------------

std::optional<AccountId> Pool::pick_round_robin(std::size_t from, WallTime now, bool& busy) {
    const std::size_t n = accounts_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const auto id = static_cast<AccountId>((from + i) % n);
        Account& a = accounts_[id];
        if (!can_take(a, now)) continue;
        if (a.in_flight >= options_.connections_per_account) {
            busy = true;
            continue;
        }
        return id;
    }
    return std::nullopt;
}

std::optional<AccountId> Pool::pick_least_used(WallTime now, bool& busy) {
    std::optional<AccountId> best;
    std::uint32_t best_used = 0;
    for (AccountId id = 0; id < accounts_.size(); ++id) {
        Account& a = accounts_[id];
        if (!can_take(a, now)) continue;
        if (a.in_flight >= options_.connections_per_account) {
            busy = true;
            continue;
        }
        const std::uint32_t used = a.window.day(now).messages;
        if (!best || used < best_used ||
            (used == best_used && a.settings.username < accounts_[*best].settings.username)) {
            best = id;
            best_used = used;
        }
    }
    return best;
}

// The recipient keeps its account while that account is usable (waiting for
// a free connection slot if need be); otherwise it moves to the next usable
// account in round-robin order from there.
std::optional<AccountId> Pool::pick_sticky(std::string_view key, WallTime now, bool& busy) {
    if (key.empty()) return pick_round_robin(cursor_, now, busy);
    const std::string k = lower(key);
    auto it = sticky_.find(k);
    if (it == sticky_.end()) return pick_round_robin(cursor_, now, busy);
    const AccountId kept = it->second->second;
    Account& a = accounts_[kept];
    if (can_take(a, now)) {
        if (a.in_flight < options_.connections_per_account) return kept;
        busy = true;
        return std::nullopt;
    }
    return pick_round_robin(kept + 1, now, busy);
}

void Pool::remember_sticky(std::string_view key, AccountId id) {
    if (key.empty() || options_.sticky_capacity == 0) return;
    std::string k = lower(key);
    if (auto it = sticky_.find(k); it != sticky_.end()) {
        it->second->second = id;
        sticky_lru_.splice(sticky_lru_.begin(), sticky_lru_, it->second);
        return;
    }
    if (sticky_lru_.size() >= options_.sticky_capacity) {
        sticky_.erase(sticky_lru_.back().first);
        sticky_lru_.pop_back();
    }
    sticky_lru_.emplace_front(std::move(k), id);
    sticky_.emplace(sticky_lru_.front().first, sticky_lru_.begin());
}

Reservation Pool::reserve(std::size_t recipients, std::string_view sticky_key, WallTime now) {
    Reservation r;
    std::optional<AccountId> id;
    switch (options_.strategy) {
        case config::Strategy::round_robin:
            id = pick_round_robin(cursor_, now, r.busy);
            break;
        case config::Strategy::least_used:
            id = pick_least_used(now, r.busy);
            break;
        case config::Strategy::sticky:
            id = pick_sticky(sticky_key, now, r.busy);
            break;
    }
    if (!id) return r;
    Account& a = accounts_[*id];
    if (options_.strategy == config::Strategy::sticky) remember_sticky(sticky_key, *id);
    cursor_ = *id + 1;
    r.busy = false;
    r.account = *id;
    r.name = a.settings.username;
    r.recipients = std::min(std::max<std::size_t>(recipients, 1), recipient_room(a, now));
    r.id = next_reservation_++;
    a.window.add(now, 1, static_cast<std::int64_t>(r.recipients), now);
    ++a.in_flight;
    in_flight_[r.id] = InFlight{*id, now, static_cast<std::uint32_t>(r.recipients)};
    journal(
        record({"S", std::to_string(r.id), r.name,
                std::to_string(
                    std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()),
                std::to_string(r.recipients)}));
    return r;
}

void Pool::settle(const Reservation& r, std::size_t delivered, WallTime now) {
    auto it = in_flight_.find(r.id);
    if (it == in_flight_.end()) return;
    const InFlight f = it->second;
    in_flight_.erase(it);
    Account& a = accounts_[f.account];
    if (a.in_flight > 0) --a.in_flight;
    const auto kept = std::min<std::size_t>(delivered, f.recipients);
    if (kept == 0)
        a.window.add(f.at, -1, -static_cast<std::int64_t>(f.recipients), now);
    else
        a.window.add(f.at, 0, static_cast<std::int64_t>(kept) - f.recipients, now);
    journal(record({"C", std::to_string(r.id), std::to_string(kept)}));
}

void Pool::blame(AccountId id, Blame what, const std::string& reason, WallTime now) {
    if (what == Blame::ip_cool_down) {
        for (AccountId i = 0; i < accounts_.size(); ++i) {
            accounts_[i].last_error = reason;
            apply(i, Event{Event::Kind::cool_down, reason, now + options_.cooldown_temporary}, now);
        }
        return;
    }
    if (id >= accounts_.size()) return;
    Account& a = accounts_[id];
    a.last_error = reason;
    switch (what) {
        case Blame::cool_down:
            apply(id, Event{Event::Kind::cool_down, reason, now + options_.cooldown_temporary}, now);
            break;
        case Blame::exhaust: {
            // Until the oldest send of the last 24 h turns 24 h old (Gmail's
            // window); then one message probes it. None known: a full day.
            const WallTime until = a.window.oldest_leaves(now).value_or(now + std::chrono::hours(24));
            apply(id, Event{Event::Kind::exhaust, reason, until}, now);
            break;
        }
        case Blame::disable:
            apply(id, Event{Event::Kind::disable, reason, {}}, now);
            break;
        case Blame::ip_cool_down:
            break;
    }
}

void Pool::note_error(AccountId id, const std::string& error) {
    if (id < accounts_.size()) accounts_[id].last_error = error;
}

bool Pool::pause(std::string_view name, WallTime now) {
    auto id = find(name);
    if (!id || !accounts_[*id].configured) return false;
    apply(*id, Event{Event::Kind::pause, "", {}}, now);
    return true;
}

bool Pool::resume(std::string_view name, WallTime now) {
    auto id = find(name);
    if (!id || !accounts_[*id].configured) return false;
    apply(*id, Event{Event::Kind::resume, "", {}}, now);
    return true;
}

Pool::ReloadResult Pool::reload(const std::vector<config::Account>& accounts, Options options, WallTime now) {
    ReloadResult r;
    if (options.connections_per_account == 0) options.connections_per_account = 1;
    if (options.strategy != options_.strategy) {
        sticky_.clear();
        sticky_lru_.clear();
    }
    options_ = std::move(options);
    std::vector<bool> present(accounts_.size(), false);
    for (const auto& settings : accounts) {
        if (auto id = find(settings.username)) {
            Account& a = accounts_[*id];
            (a.configured ? r.updated : r.added).push_back(settings.username);
            a.settings = settings;
            a.configured = true;
            present[*id] = true;
            apply(*id, Event{Event::Kind::enable, "", {}}, now);
        } else {
            add_account(settings);
            present.push_back(true);
            r.added.push_back(settings.username);
        }
    }
    for (AccountId id = 0; id < accounts_.size(); ++id) {
        if (present[id] || !accounts_[id].configured) continue;
        accounts_[id].configured = false;
        r.removed.push_back(accounts_[id].settings.username);
    }
    return r;
}

// ---- questions --------------------------------------------------------------

bool Pool::any_usable(WallTime now) {
    return std::any_of(accounts_.begin(), accounts_.end(), [&](Account& a) { return can_take(a, now); });
}

std::size_t Pool::free_slots(WallTime now) {
    std::size_t slots = 0;
    for (auto& a : accounts_)
        if (can_take(a, now) && a.in_flight < options_.connections_per_account)
            slots += options_.connections_per_account - a.in_flight;
    return slots;
}

std::optional<WallTime> Pool::next_change(WallTime now) {
    std::optional<WallTime> best;
    for (auto& a : accounts_) {
        auto t = usable_again(a, now);
        if (t && (!best || *t < *best)) best = t;
    }
    return best;
}

std::vector<AccountStatus> Pool::status(WallTime now) {
    std::vector<AccountStatus> out;
    for (AccountId id = 0; id < accounts_.size(); ++id) {
        Account& a = accounts_[id];
        if (!a.configured) continue;
        AccountStatus s;
        s.id = id;
        s.name = a.settings.username;
        s.state = state_of(a, now);
        s.limits = effective_limits(a.settings, options_.warmup, now);
        s.day = a.window.day(now);
        s.hour_messages = a.window.hour(now).messages;
        if (s.state == a.stored.state) {
            s.reason = a.stored.reason;
            s.since = a.stored.since;
        } else {
            s.reason = "configured limit reached";
        }
        if (s.state == State::cooling_down || s.state == State::exhausted) s.until = usable_again(a, now);
        s.last_error = a.last_error;
        s.in_flight = a.in_flight;
        out.push_back(std::move(s));
    }
    return out;
}

void Pool::journal(std::string line) {
    journal_ += line;
    ++journal_since_snapshot_;
}

std::string Pool::take_journal() {
    std::string out;
    out.swap(journal_);
    return out;
}

void Pool::give_back_journal(std::string lines) {
    journal_.insert(0, lines);
}

}  // namespace rp::pool
