// Scheduler: the in-memory queue index. For every queued message it keeps a
// few dozen bytes of metadata (never the envelope or the body), orders them
// by due time and hands out the next due ones while the active window has
// room. The engine (relay/engine.hpp) drives it from its one thread; the
// scheduler itself is pure: no I/O, no timers, no clock (callers pass now).
//
// Invariants:
// - A message is in exactly one of: due (waiting for its time), held (no
//   account usable: waits for wake_held() or its expiry time), parked (its
//   account was busy: waits for wake_parked(), i.e. a send finishing),
//   active (a delivery runs; at most max_active at once).
// - take_due() never returns more than the window allows, so the number of
//   messages loaded in memory and transport sessions in use stays bounded
//   however long the backlog is.
// Used by relay/engine.* and its tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "spool/spool.hpp"

namespace rp::relay {

// What became of a message after one delivery attempt.
struct Disposition {
    enum class Kind {
        removed,  // finished (all recipients final) or gone from the spool
        due_at,   // try again at `at` (now = promptly, e.g. via another account)
        held,     // no account usable: wait for wake_held(), at the latest until `at` (its expiry)
        busy,     // the account it must use has no free connection: parked until a send finishes
    };
    Kind kind = Kind::removed;
    WallTime at{};
};

struct QueueDepth {
    std::size_t ready = 0;     // due now or soon, not held, not active
    std::size_t active = 0;    // deliveries in flight
    std::size_t deferred = 0;  // waiting for a later time or for an account
};

class Scheduler {
  public:
    explicit Scheduler(std::size_t max_active);

    // A message entered the queue (recovery or a new commit). Ignored if
    // already known. Due at summary.next_attempt (epoch = now).
    void add(const spool::MessageSummary& summary);

    // Up to min(limit, window room) due message ids, oldest due first; they
    // become active.
    std::vector<std::string> take_due(WallTime now, std::size_t limit);

    // The attempt on an active message ended.
    void finished(const std::string& id, const Disposition& disposition);

    // An account became usable: up to `limit` held messages (the oldest)
    // are due now. Returns how many.
    std::size_t wake_held(WallTime now, std::size_t limit);
    // A send finished (a connection slot is free): every parked (busy)
    // message is due now. At most the active window's worth are parked.
    std::size_t wake_parked(WallTime now);

    // Operator retry: make a waiting message (or all) due now. false/0 when
    // unknown or active.
    bool make_due(const std::string& id, WallTime now);
    std::size_t make_all_due(WallTime now);

    // Operator delete: forget a waiting message. false when unknown or active.
    bool erase(const std::string& id);

    bool contains(const std::string& id) const { return entries_.count(id) != 0; }
    bool is_active(const std::string& id) const;
    std::size_t size() const { return entries_.size(); }
    std::size_t active() const { return active_; }
    std::size_t held() const { return held_keys_.size(); }
    std::size_t max_active() const { return max_active_; }
    // A smaller window only stops new deliveries until enough have finished.
    void set_max_active(std::size_t n) { max_active_ = n == 0 ? 1 : n; }

    // The earliest due time of a waiting message (held ones count at their
    // expiry), or nullopt when nothing waits.
    std::optional<WallTime> next_due() const;
    QueueDepth depth() const;
    std::optional<WallTime> oldest_arrival() const;

  private:
    struct Entry {
        WallTime arrival{};
        WallTime due{};
        bool active = false;
        bool held = false;
        bool deferred = false;  // waits after a failed attempt (counted as deferred, not ready)
    };
    using Key = std::pair<WallTime, std::string>;

    void enqueue(const std::string& id, Entry& e, WallTime due, bool held, bool deferred);
    void dequeue(const std::string& id, Entry& e);

    std::size_t max_active_;
    std::size_t active_ = 0;
    std::size_t deferred_ = 0;
    std::unordered_map<std::string, Entry> entries_;
    std::set<Key> waiting_;             // (due, id) of every non-active message
    std::set<Key> held_keys_;           // (due, id) of the held ones among them
    std::set<std::string> parked_;      // busy: waiting for any send to finish (not in waiting_)
    std::multiset<WallTime> arrivals_;  // for the oldest-age gauge
};

}  // namespace rp::relay
