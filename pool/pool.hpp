// Pool: the rotation pool of upstream accounts. It decides which account
// carries the next send (the strategy), keeps every account's named state and
// usage, and never lets an account exceed its (warm-up adjusted) limits.
//
// Invariants:
// - reserve() only returns an account that is configured, active (not
//   paused, disabled, cooling down or exhausted) and under every limit
//   (daily_limit, daily_recipient_limit, hourly_limit, the warm-up row),
//   counting sends still in flight: a send is reserved (counted) when it is
//   picked and settled afterwards, so limits hold with concurrent deliveries.
//   At most connections_per_account sends run per account: the pool is the
//   one owner of that number.
// - Every change that must survive a restart (reservations, settlements,
//   state changes) is appended to the journal (take_journal()); the owner
//   makes it durable before the send starts (relay/pool_keeper.*), and
//   snapshot() + restore() round-trip the whole state (pool/state_file.hpp).
// - Accounts are referred to by id (an index that never changes while the
//   process runs); settings are looked up by id when needed (credentials()),
//   so a reload can replace them. A removed account keeps its id and usage
//   (a re-added one continues where it was) but takes no new sends.
// - Pure: no I/O, no clock of its own (callers pass `now`), no Asio, not
//   thread-safe (the engine calls it from its one thread).
// Used by relay/ and the pool tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "pool/account.hpp"
#include "pool/state_file.hpp"
#include "pool/warmup.hpp"

namespace rp::pool {

using AccountId = std::uint32_t;

struct Options {
    config::Strategy strategy = config::Strategy::round_robin;
    std::chrono::milliseconds cooldown_temporary = std::chrono::minutes(15);
    std::uint32_t connections_per_account = 2;
    std::vector<config::WarmupRow> warmup;
    // sticky: remembered recipient -> account pairs (least recently used
    // dropped first); about 100 bytes each.
    std::size_t sticky_capacity = 50000;
};

// The answer to reserve(): an account and how many of the requested
// recipients it may carry now (fewer when its recipient budget is nearly
// spent: the caller sends those and keeps the rest pending), or none.
struct Reservation {
    AccountId account = 0;
    std::string name;
    std::size_t recipients = 0;
    std::uint64_t id = 0;  // 0: no account
    // No account returned, but some are usable: all at their connection
    // slots. Wait for a send to finish; not a deferral.
    bool busy = false;
    explicit operator bool() const { return id != 0; }
};

// What an upstream reply said about an account (the relay maps verdicts).
enum class Blame { cool_down, exhaust, disable, ip_cool_down };

struct AccountStatus {
    AccountId id = 0;
    std::string name;
    State state = State::active;
    std::string reason;
    WallTime since{};
    std::optional<WallTime> until;  // when a cooling_down/exhausted account may be usable again
    Usage day;                      // messages and recipients in the last 24 h, in flight included
    std::uint32_t hour_messages = 0;
    Limits limits;  // effective (warm-up applied)
    std::string last_error;
    std::uint32_t in_flight = 0;
};

class Pool {
  public:
    Pool(std::vector<config::Account> accounts, Options options);

    // Picks an account by the strategy for a message with `recipients`
    // pending recipients; `sticky_key` (a recipient address) is used by the
    // sticky strategy. Reserves one message and the granted recipients.
    Reservation reserve(std::size_t recipients, std::string_view sticky_key, WallTime now);

    // The send is over: `delivered` of the reserved recipients were accepted
    // upstream. 0 releases the reservation (nothing was sent).
    void settle(const Reservation& r, std::size_t delivered, WallTime now);

    // Consequences of a reply that blames the account (or, ip_cool_down, the
    // sending IP: every account). `reason` is the reply as operators see it.
    void blame(AccountId id, Blame what, const std::string& reason, WallTime now);
    // The account's last error (shown in status), without a state change.
    void note_error(AccountId id, const std::string& error);

    // Operator controls; false for an unknown (or removed) account. resume()
    // clears every state but never the configured limits.
    bool pause(std::string_view name, WallTime now);
    bool resume(std::string_view name, WallTime now);

    // SIGHUP: accounts with a known name take the new settings (a disabled
    // one is enabled again), new ones join, missing ones take no new sends
    // (their running sends finish). Options (strategy, cooldown, warm-up,
    // connections) are replaced.
    struct ReloadResult {
        std::vector<std::string> updated, added, removed;
    };
    ReloadResult reload(const std::vector<config::Account>& accounts, Options options, WallTime now);

    // The account's current settings (credentials, limits), by id.
    std::optional<config::Account> credentials(AccountId id) const;
    std::optional<AccountId> find(std::string_view name) const;

    bool any_usable(WallTime now);
    // Connection slots free on usable accounts (how many sends may start).
    std::size_t free_slots(WallTime now);
    // The earliest future moment an unusable account becomes usable by
    // itself (cooldown over, a window frees room); nullopt if none will.
    std::optional<WallTime> next_change(WallTime now);
    std::vector<AccountStatus> status(WallTime now);
    std::size_t size() const;  // configured accounts

    // ---- persistence (pool/pool_state.cpp) --------------------------------
    // Sealed journal lines recorded since the last call.
    std::string take_journal();
    // Lines take_journal() gave that the store could not write (a full
    // disk): back in front, written with the next ones. Records may be
    // batched, never skipped.
    void give_back_journal(std::string lines);
    std::size_t journal_lines_since_snapshot() const { return journal_since_snapshot_; }
    // The whole state as a pool.state file (header, usage buckets, states,
    // reservations in flight, round-robin position).
    std::string snapshot(WallTime now);
    // Applies a parsed pool.state (at start, before any reserve()). Records
    // of unknown accounts are kept (a later reload may add them back).
    // Reservations never settled count as sent in full.
    void restore(const ParsedState& state, WallTime now);
    // pool.state could not be read: every account is exhausted until 24 h
    // after the file's last write (`pool resume` overrides).
    void assume_full(WallTime last_write, const std::string& why, WallTime now);

  private:
    struct InFlight {
        AccountId account;
        WallTime at;
        std::uint32_t recipients;
    };

    State state_of(Account& a, WallTime now);
    std::size_t recipient_room(Account& a, WallTime now);
    bool can_take(Account& a, WallTime now);
    std::optional<WallTime> usable_again(Account& a, WallTime now);
    void apply(AccountId id, const Event& e, WallTime now);
    Account& add_account(config::Account settings);
    std::optional<AccountId> pick_round_robin(std::size_t from, WallTime now, bool& busy);
    std::optional<AccountId> pick_least_used(WallTime now, bool& busy);
    std::optional<AccountId> pick_sticky(std::string_view key, WallTime now, bool& busy);
    void remember_sticky(std::string_view key, AccountId id);
    void journal(std::string line);

    std::vector<Account> accounts_;
    std::unordered_map<std::string, AccountId> by_name_;
    Options options_;
    std::size_t cursor_ = 0;  // round-robin: index after the last picked account
    std::uint64_t next_reservation_ = 1;
    std::unordered_map<std::uint64_t, InFlight> in_flight_;
    // sticky: LRU of recipient -> account
    std::list<std::pair<std::string, AccountId>> sticky_lru_;
    std::unordered_map<std::string_view, std::list<std::pair<std::string, AccountId>>::iterator> sticky_;
    std::string journal_;
    std::size_t journal_since_snapshot_ = 0;
};

}  // namespace rp::pool
