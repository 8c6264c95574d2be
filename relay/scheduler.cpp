// Scheduler: due-time ordered queue index with a bounded active window (see
// scheduler.hpp). Every operation is O(log n) except the bulk ones.
#include "relay/scheduler.hpp"

#include <algorithm>

namespace rp::relay {

Scheduler::Scheduler(std::size_t max_active) : max_active_(std::max<std::size_t>(max_active, 1)) {}

void Scheduler::enqueue(const std::string& id, Entry& e, WallTime due, bool held, bool deferred) {
    e.due = due;
    e.held = held;
    e.deferred = deferred || held;
    if (e.held) held_keys_.emplace(due, id);
    if (e.deferred) ++deferred_;
    waiting_.emplace(due, id);
}

void Scheduler::dequeue(const std::string& id, Entry& e) {
    waiting_.erase(Key{e.due, id});
    parked_.erase(id);
    if (e.held) held_keys_.erase(Key{e.due, id});
    if (e.deferred) --deferred_;
    e.held = false;
    e.deferred = false;
}

void Scheduler::add(const spool::MessageSummary& summary) {
    auto [it, inserted] = entries_.try_emplace(summary.id);
    if (!inserted) return;
    it->second.arrival = summary.arrival;
    arrivals_.insert(summary.arrival);
    enqueue(summary.id, it->second, summary.next_attempt, false,
            summary.state == spool::MessageState::deferred && !summary.interrupted);
}

std::vector<std::string> Scheduler::take_due(WallTime now, std::size_t limit) {
    std::vector<std::string> out;
    while (active_ < max_active_ && out.size() < limit && !waiting_.empty()) {
        auto first = waiting_.begin();
        if (first->first > now) break;
        std::string id = first->second;
        Entry& e = entries_.at(id);
        dequeue(id, e);
        e.active = true;
        ++active_;
        out.push_back(std::move(id));
    }
    return out;
}

void Scheduler::finished(const std::string& id, const Disposition& d) {
    auto it = entries_.find(id);
    if (it == entries_.end() || !it->second.active) return;
    Entry& e = it->second;
    e.active = false;
    --active_;
    switch (d.kind) {
        case Disposition::Kind::removed:
            arrivals_.erase(arrivals_.find(e.arrival));
            entries_.erase(it);
            return;
        case Disposition::Kind::due_at:
            enqueue(id, e, d.at, false, true);
            return;
        case Disposition::Kind::held:
            enqueue(id, e, d.at, true, true);
            return;
        case Disposition::Kind::busy:
            // Not due again until a send finishes: taking it at once would
            // only meet the same busy account again (a busy loop).
            parked_.insert(id);
            return;
    }
}

std::size_t Scheduler::wake_held(WallTime now, std::size_t limit) {
    std::size_t woken = 0;
    // Held messages wait at their expiry time: the first ones expire first,
    // i.e. they arrived first.
    while (woken < limit && !held_keys_.empty()) {
        const std::string id = held_keys_.begin()->second;
        Entry& e = entries_.at(id);
        dequeue(id, e);
        enqueue(id, e, now, false, true);
        ++woken;
    }
    return woken;
}

std::size_t Scheduler::wake_parked(WallTime now) {
    std::set<std::string> ids;
    ids.swap(parked_);
    for (const auto& id : ids) enqueue(id, entries_.at(id), now, false, false);
    return ids.size();
}

bool Scheduler::make_due(const std::string& id, WallTime now) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.active) return false;
    const bool deferred = it->second.deferred;
    dequeue(id, it->second);
    // A held message stays "deferred" but is due now: its attempt finds out
    // whether an account is usable (retry does not override account states).
    enqueue(id, it->second, now, false, deferred);
    return true;
}

std::size_t Scheduler::make_all_due(WallTime now) {
    std::vector<std::string> ids;
    for (const auto& [due, id] : waiting_)
        if (due > now || entries_.at(id).held) ids.push_back(id);
    for (const auto& id : ids) make_due(id, now);
    return ids.size();
}

bool Scheduler::erase(const std::string& id) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.active) return false;
    dequeue(id, it->second);
    arrivals_.erase(arrivals_.find(it->second.arrival));
    entries_.erase(it);
    return true;
}

bool Scheduler::is_active(const std::string& id) const {
    auto it = entries_.find(id);
    return it != entries_.end() && it->second.active;
}

std::optional<WallTime> Scheduler::next_due() const {
    if (waiting_.empty()) return std::nullopt;
    return waiting_.begin()->first;
}

QueueDepth Scheduler::depth() const {
    QueueDepth d;
    d.active = active_;
    d.deferred = deferred_;
    d.ready = waiting_.size() - deferred_ + parked_.size();
    return d;
}

std::optional<WallTime> Scheduler::oldest_arrival() const {
    if (arrivals_.empty()) return std::nullopt;
    return *arrivals_.begin();
}

}  // namespace rp::relay
