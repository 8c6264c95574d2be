// AccountSelector: the seam the account pool fills. A delivery asks it for
// "an account to use" (pick) and tells it what happened (settle + report);
// the selector owns every account's state and its rolling usage counters.
//
// Invariants:
// - pick() only returns an account that is active (not paused, disabled,
//   cooling down or exhausted) and under every configured limit
//   (daily_limit, daily_recipient_limit, hourly_limit over rolling windows),
//   counting sends that are still in flight: a send is reserved when it is
//   picked and settled afterwards, so limits hold with concurrent deliveries.
// - Usage is kept in memory only: limits are never exceeded within one
//   process lifetime, but a restart forgets the last 24 h (persisting usage,
//   Redis sharing, least-used and sticky strategies are the pool issue).
// - Pure: no I/O, no clock of its own (callers pass `now`), no Asio. The
//   engine calls it from its one thread; it is not thread-safe.
// Used by relay/ (delivery, engine, relay facade) and its tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "protocol/upstream_result.hpp"

namespace rp::metrics {
class Metrics;
}

namespace rp::relay {

using SelectorTime = std::chrono::system_clock::time_point;

enum class AccountState { active, cooling_down, exhausted, disabled, paused };
std::string_view to_string(AccountState state);

struct AccountStatus {
    std::string name;
    AccountState state = AccountState::active;
    std::uint32_t sent_24h = 0;        // messages, including reserved in-flight sends
    std::uint32_t recipients_24h = 0;  // recipients, likewise
    std::uint32_t daily_limit = 0;
    std::optional<SelectorTime> until;  // when a cooling_down/exhausted account may be usable again
    std::string last_error;
    std::uint32_t in_flight = 0;
};

// The answer to pick(): an account and how many of the requested recipients
// it may carry now (fewer when its recipient budget is nearly spent: the
// caller sends those and keeps the rest pending), or no account.
struct Pick {
    const config::Account* account = nullptr;
    std::size_t recipients = 0;
    // No account returned, but some are usable: they are all at
    // connections_per_account. Wait for a delivery to finish; not a deferral.
    bool busy = false;
    std::uint64_t reservation = 0;  // for settle()
    explicit operator bool() const { return account != nullptr; }
};

struct SelectorOptions {
    std::chrono::milliseconds cooldown_temporary = std::chrono::minutes(15);
    std::uint32_t connections_per_account = 2;
};

class AccountSelector {
  public:
    AccountSelector(std::vector<config::Account> accounts, SelectorOptions options);

    // Round-robin over the accounts that are usable, not in `exclude` and
    // have a free connection slot. Reserves one message and `recipients`
    // recipients on the returned account until settle().
    Pick pick(std::size_t recipient_count, const std::vector<std::string>& exclude, SelectorTime now);

    // The attempt is over: `delivered_recipients` of the reserved recipients
    // were accepted upstream. 0 releases the reservation (nothing was sent);
    // otherwise the send counts as one message with that many recipients.
    void settle(const Pick& pick, std::size_t delivered_recipients, SelectorTime now);

    // Consequences of a verdict that blames an account or the sending IP:
    // account_cooldown, account_disabled, account_exhausted, ip_cooldown.
    // Other verdicts only update the account's last error. Unknown names are
    // ignored.
    void report(std::string_view account, protocol::Verdict verdict, const protocol::UpstreamOutcome& outcome,
                SelectorTime now);

    // Operator controls; false for an unknown account. resume() clears
    // paused, disabled, cooling down and a Gmail-reported exhaustion, never
    // the configured limits.
    bool pause(std::string_view account);
    bool resume(std::string_view account);

    // Config reload (SIGHUP): accounts with the same username take the new
    // credentials and limits, and a disabled one is enabled again (SPEC:
    // "disabled until an operator resumes it or the config is reloaded").
    // Usage, cooldowns and pauses are kept. Added or removed accounts are not
    // applied (the pool issue); their names are returned for the log.
    struct ReloadResult {
        std::size_t updated = 0;
        std::vector<std::string> ignored_added, ignored_removed;
    };
    ReloadResult reload(const std::vector<config::Account>& accounts);

    // Is at least one account usable now (ignoring connection slots)?
    bool any_usable(SelectorTime now) const;
    // Connection slots free on usable accounts (how many deliveries may start).
    std::size_t free_slots(SelectorTime now) const;
    // The earliest future moment an unusable account becomes usable by
    // itself (cooldown over, rolling window frees room); nullopt if none will.
    std::optional<SelectorTime> next_change(SelectorTime now) const;

    std::vector<AccountStatus> status(SelectorTime now) const;
    // Sets relaypool_account_{up,state,sent_24h,daily_limit} for every account.
    void publish(metrics::Metrics& metrics, SelectorTime now) const;

    std::size_t size() const { return accounts_.size(); }

  private:
    struct Send {
        SelectorTime at;
        std::uint32_t recipients;
        std::uint64_t reservation;  // 0 once settled
    };
    struct Entry {
        config::Account config;
        bool paused = false;
        bool disabled = false;
        SelectorTime cooldown_until{};
        SelectorTime exhausted_until{};  // Gmail said 550 5.4.5
        std::deque<Send> sends;          // the last 24 h, oldest first
        std::string last_error;
        std::uint32_t in_flight = 0;
    };

    void expire(Entry& e, SelectorTime now) const;
    AccountState state_of(const Entry& e, SelectorTime now) const;
    std::optional<SelectorTime> usable_again(const Entry& e, SelectorTime now) const;
    std::size_t recipient_room(const Entry& e, SelectorTime now) const;
    Entry* find(std::string_view name);

    std::vector<Entry> accounts_;
    SelectorOptions options_;
    std::size_t cursor_ = 0;
    std::uint64_t next_reservation_ = 1;
};

}  // namespace rp::relay
