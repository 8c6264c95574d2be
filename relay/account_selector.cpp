// AccountSelector: round-robin over usable accounts with rolling-window usage
// counters kept in memory (see account_selector.hpp for the invariants).
#include "relay/account_selector.hpp"

#include <algorithm>
#include <limits>

#include "metrics/metrics.hpp"

namespace rp::relay {

namespace {

constexpr auto kDay = std::chrono::hours(24);
constexpr auto kHour = std::chrono::hours(1);

struct Usage {
    std::uint32_t messages_24h = 0;
    std::uint32_t recipients_24h = 0;
    std::uint32_t messages_1h = 0;
};

template <class Sends>
Usage usage_of(const Sends& sends, SelectorTime now) {
    Usage u;
    for (const auto& s : sends) {
        if (s.at + kDay <= now) continue;
        ++u.messages_24h;
        u.recipients_24h += s.recipients;
        if (s.at + kHour > now) ++u.messages_1h;
    }
    return u;
}

bool limit_reached(std::uint32_t used, std::uint32_t limit) {
    return limit != 0 && used >= limit;
}

// When does the window hold fewer than `limit` sends again? The
// (used - limit)-th oldest live send leaves the window first.
template <class Sends>
std::optional<SelectorTime> messages_free_at(const Sends& sends, SelectorTime now, std::chrono::hours window,
                                             std::uint32_t limit) {
    std::uint32_t live = 0;
    for (const auto& s : sends)
        if (s.at + window > now) ++live;
    if (limit == 0 || live < limit) return std::nullopt;
    std::uint32_t to_drop = live - limit + 1;
    for (const auto& s : sends) {
        if (s.at + window <= now) continue;
        if (--to_drop == 0) return s.at + window;
    }
    return std::nullopt;
}

template <class Sends>
std::optional<SelectorTime> recipients_free_at(const Sends& sends, SelectorTime now, std::uint32_t used,
                                               std::uint32_t limit) {
    if (limit == 0 || used < limit) return std::nullopt;
    std::uint32_t total = used;
    for (const auto& s : sends) {
        if (s.at + kDay <= now) continue;
        total -= std::min(total, s.recipients);
        if (total < limit) return s.at + kDay;
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(AccountState state) {
    switch (state) {
        case AccountState::active:
            return "active";
        case AccountState::cooling_down:
            return "cooling_down";
        case AccountState::exhausted:
            return "exhausted";
        case AccountState::disabled:
            return "disabled";
        case AccountState::paused:
            return "paused";
    }
    return "active";
}

AccountSelector::AccountSelector(std::vector<config::Account> accounts, SelectorOptions options)
    : options_(options) {
    if (options_.connections_per_account == 0) options_.connections_per_account = 1;
    accounts_.reserve(accounts.size());
    for (auto& a : accounts) {
        Entry e;
        e.config = std::move(a);
        accounts_.push_back(std::move(e));
    }
}

void AccountSelector::expire(Entry& e, SelectorTime now) const {
    while (!e.sends.empty() && e.sends.front().reservation == 0 && e.sends.front().at + kDay <= now)
        e.sends.pop_front();
}

AccountState AccountSelector::state_of(const Entry& e, SelectorTime now) const {
    if (e.paused) return AccountState::paused;
    if (e.disabled) return AccountState::disabled;
    if (e.cooldown_until > now) return AccountState::cooling_down;
    if (e.exhausted_until > now) return AccountState::exhausted;
    const Usage u = usage_of(e.sends, now);
    if (limit_reached(u.messages_24h, e.config.daily_limit) ||
        limit_reached(u.messages_1h, e.config.hourly_limit) ||
        limit_reached(u.recipients_24h, e.config.daily_recipient_limit))
        return AccountState::exhausted;
    return AccountState::active;
}

std::optional<SelectorTime> AccountSelector::usable_again(const Entry& e, SelectorTime now) const {
    if (e.paused || e.disabled) return std::nullopt;
    SelectorTime t = std::max(e.cooldown_until, e.exhausted_until);
    const Usage u = usage_of(e.sends, now);
    for (auto free_at : {messages_free_at(e.sends, now, kDay, e.config.daily_limit),
                         messages_free_at(e.sends, now, kHour, e.config.hourly_limit),
                         recipients_free_at(e.sends, now, u.recipients_24h, e.config.daily_recipient_limit)})
        if (free_at) t = std::max(t, *free_at);
    if (t <= now) return std::nullopt;  // usable now
    return t;
}

std::size_t AccountSelector::recipient_room(const Entry& e, SelectorTime now) const {
    if (e.config.daily_recipient_limit == 0) return std::numeric_limits<std::size_t>::max();
    const Usage u = usage_of(e.sends, now);
    return u.recipients_24h >= e.config.daily_recipient_limit
               ? 0
               : e.config.daily_recipient_limit - u.recipients_24h;
}

AccountSelector::Entry* AccountSelector::find(std::string_view name) {
    for (auto& e : accounts_)
        if (e.config.username == name) return &e;
    return nullptr;
}

Pick AccountSelector::pick(std::size_t recipient_count, const std::vector<std::string>& exclude,
                           SelectorTime now) {
    Pick result;
    const std::size_t n = accounts_.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t idx = (cursor_ + i) % n;
        Entry& e = accounts_[idx];
        expire(e, now);
        if (state_of(e, now) != AccountState::active) continue;
        if (std::find(exclude.begin(), exclude.end(), e.config.username) != exclude.end()) continue;
        const std::size_t room = recipient_room(e, now);
        if (room == 0) continue;
        if (e.in_flight >= options_.connections_per_account) {
            result.busy = true;
            continue;
        }
        cursor_ = idx + 1;
        result.busy = false;
        result.account = &e.config;
        result.recipients = std::min(std::max<std::size_t>(recipient_count, 1), room);
        result.reservation = next_reservation_++;
        e.sends.push_back(Send{now, static_cast<std::uint32_t>(result.recipients), result.reservation});
        ++e.in_flight;
        return result;
    }
    return result;
}

void AccountSelector::settle(const Pick& pick, std::size_t delivered_recipients, SelectorTime now) {
    if (!pick.account) return;
    for (auto& e : accounts_) {
        if (&e.config != pick.account) continue;
        if (e.in_flight > 0) --e.in_flight;
        auto it = std::find_if(e.sends.begin(), e.sends.end(),
                               [&](const Send& s) { return s.reservation == pick.reservation; });
        if (it == e.sends.end()) return;
        if (delivered_recipients == 0) {
            e.sends.erase(it);
        } else {
            it->recipients = static_cast<std::uint32_t>(delivered_recipients);
            it->reservation = 0;
        }
        expire(e, now);
        return;
    }
}

void AccountSelector::report(std::string_view account, protocol::Verdict verdict,
                             const protocol::UpstreamOutcome& outcome, SelectorTime now) {
    using protocol::Verdict;
    if (verdict == Verdict::ip_cooldown) {
        for (auto& e : accounts_) {
            e.cooldown_until = std::max(e.cooldown_until, now + options_.cooldown_temporary);
            e.last_error = outcome.text;
        }
        return;
    }
    Entry* e = find(account);
    if (!e) return;
    switch (verdict) {
        case Verdict::account_cooldown:
            e->cooldown_until = std::max(e->cooldown_until, now + options_.cooldown_temporary);
            break;
        case Verdict::account_disabled:
            e->disabled = true;
            break;
        case Verdict::account_exhausted: {
            // Until the oldest send of the last 24 h turns 24 h old; with none
            // known to this process, a full day.
            SelectorTime until = now + kDay;
            for (const auto& s : e->sends)
                if (s.at + kDay > now && s.reservation == 0) {
                    until = s.at + kDay;
                    break;
                }
            e->exhausted_until = std::max(e->exhausted_until, until);
            break;
        }
        default:
            break;
    }
    if (verdict != Verdict::delivered) {
        e->last_error = std::to_string(outcome.code) +
                        (outcome.enhanced.empty() ? "" : " " + outcome.enhanced) + " " + outcome.text;
    }
}

bool AccountSelector::pause(std::string_view account) {
    Entry* e = find(account);
    if (!e) return false;
    e->paused = true;
    return true;
}

bool AccountSelector::resume(std::string_view account) {
    Entry* e = find(account);
    if (!e) return false;
    e->paused = false;
    e->disabled = false;
    e->cooldown_until = {};
    e->exhausted_until = {};
    return true;
}

AccountSelector::ReloadResult AccountSelector::reload(const std::vector<config::Account>& accounts) {
    ReloadResult r;
    for (const auto& a : accounts) {
        Entry* e = find(a.username);
        if (!e) {
            r.ignored_added.push_back(a.username);
            continue;
        }
        // In place: a running delivery holds a pointer to this config.
        e->config.password = a.password;
        e->config.oauth2 = a.oauth2;
        e->config.daily_limit = a.daily_limit;
        e->config.daily_recipient_limit = a.daily_recipient_limit;
        e->config.hourly_limit = a.hourly_limit;
        e->disabled = false;
        ++r.updated;
    }
    for (const auto& e : accounts_) {
        const bool kept = std::any_of(accounts.begin(), accounts.end(), [&](const config::Account& a) {
            return a.username == e.config.username;
        });
        if (!kept) r.ignored_removed.push_back(e.config.username);
    }
    return r;
}

bool AccountSelector::any_usable(SelectorTime now) const {
    return std::any_of(accounts_.begin(), accounts_.end(), [&](const Entry& e) {
        return state_of(e, now) == AccountState::active && recipient_room(e, now) > 0;
    });
}

std::size_t AccountSelector::free_slots(SelectorTime now) const {
    std::size_t slots = 0;
    for (const auto& e : accounts_)
        if (state_of(e, now) == AccountState::active && recipient_room(e, now) > 0 &&
            e.in_flight < options_.connections_per_account)
            slots += options_.connections_per_account - e.in_flight;
    return slots;
}

std::optional<SelectorTime> AccountSelector::next_change(SelectorTime now) const {
    std::optional<SelectorTime> best;
    for (const auto& e : accounts_) {
        auto t = usable_again(e, now);
        if (t && (!best || *t < *best)) best = t;
    }
    return best;
}

std::vector<AccountStatus> AccountSelector::status(SelectorTime now) const {
    std::vector<AccountStatus> out;
    out.reserve(accounts_.size());
    for (const auto& e : accounts_) {
        const Usage u = usage_of(e.sends, now);
        AccountStatus s;
        s.name = e.config.username;
        s.state = state_of(e, now);
        s.sent_24h = u.messages_24h;
        s.recipients_24h = u.recipients_24h;
        s.daily_limit = e.config.daily_limit;
        if (s.state == AccountState::cooling_down || s.state == AccountState::exhausted)
            s.until = usable_again(e, now);
        s.last_error = e.last_error;
        s.in_flight = e.in_flight;
        out.push_back(std::move(s));
    }
    return out;
}

void AccountSelector::publish(metrics::Metrics& metrics, SelectorTime now) const {
    for (const auto& s : status(now))
        metrics.set_account(s.name, to_string(s.state), s.sent_24h, s.daily_limit);
}

}  // namespace rp::relay
