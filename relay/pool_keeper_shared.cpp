// PoolKeeper, shared mode: the pool joined to Redis (relay/redis_pool_state.*)
// instead of a local pool.state (see pool_keeper.hpp for the invariants).
#include <cstdlib>
#include <random>

#include "common/await_callback.hpp"
#include "common/log.hpp"
#include "relay/pool_keeper.hpp"
#include "relay/redis_pool_state.hpp"

namespace rp::relay {

namespace {

class SharedCategory final : public std::error_category {
  public:
    const char* name() const noexcept override { return "shared pool state"; }
    std::string message(int c) const override {
        return c == static_cast<int>(SharedErrc::full) ? "shared limit reached (another instance used it)"
                                                       : "shared pool state (Redis) unavailable";
    }
};

// The since_ms of a stored state ("<state> <since_ms> <until_ms> <reason>").
std::int64_t since_of(const std::string& stored) {
    const auto sp = stored.find(' ');
    return sp == std::string::npos ? 0 : std::strtoll(stored.c_str() + sp + 1, nullptr, 10);
}

std::int64_t ms_of(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Reservation ids are the pool's own, prefixed per process: two instances
// (or one before and after a restart) never collide.
std::string random_instance() {
    std::random_device rd;
    const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

std::error_code make_error_code(SharedErrc e) {
    static const SharedCategory category;
    return {static_cast<int>(e), category};
}

void PoolKeeper::share(RedisPoolState* shared, std::function<void()> on_change) {
    shared_ = shared;
    on_change_ = std::move(on_change);
    instance_ = random_instance();
    std::weak_ptr<int> alive = alive_;
    shared_->on_states([this, alive](std::vector<SharedAccountState> states) {
        if (!alive.expired()) adopt(states);
    });
}

void PoolKeeper::shutdown(std::function<void()> done) {
    if (!shared_) return done();
    forward_journal();
    shared_->shutdown(std::move(done));
}

bool PoolKeeper::can_send() const {
    return !shared_ || shared_->ready();
}

boost::asio::awaitable<std::error_code> PoolKeeper::durable(const pool::Reservation& r) {
    if (!shared_) {
        const std::error_code ec = co_await durable();
        co_return ec;
    }
    forward_journal();
    if (!shared_->ready()) co_return make_error_code(SharedErrc::unavailable);
    pool::Limits limits;
    for (const auto& a : pool_.status(clock_.now()))
        if (a.id == r.account) limits = a.limits;
    const std::string id = instance_ + "-" + std::to_string(r.id);
    const auto recipients = static_cast<std::uint32_t>(r.recipients);
    const SharedReserve res = co_await await_callback<SharedReserve>(
        [&](auto done) { shared_->reserve(r.name, id, recipients, limits, std::move(done)); });
    switch (res.result) {
        case SharedReserve::Result::ok:
            reserved_[r.id] = r.name;
            co_return std::error_code();
        case SharedReserve::Result::full:
            hold_back(r, res.until_ms);
            co_return make_error_code(SharedErrc::full);
        case SharedReserve::Result::unavailable:
            // Redis may have run the script before the connection failed:
            // release it once Redis is back (nothing is sent for it).
            unsettled_.push_back({r.name, id, 0});
            break;
    }
    log::warn("pool", "send not reserved in Redis; it waits", {{"account", r.name}, {"error", res.why}});
    co_return make_error_code(SharedErrc::unavailable);
}

// The pool's journal is the change feed: settlements (C) and state changes
// (X) go to Redis; reservations (S) were reserved by durable() itself.
void PoolKeeper::forward_journal() {
    retry_unsettled();
    retry_unpublished();
    const std::string text = pool_.take_journal();
    if (text.empty()) return;
    for (const auto& f : pool::parse_state(text).records) {
        if (f[0] == "X" && (f.size() == 5 || f.size() == 6)) {  // 5: an empty reason
            const std::string reason = f.size() == 6 ? f[5] : "";
            publish_shared(f[1], f[2] + " " + f[3] + " " + f[4] + " " + reason,
                           pool::by_operator(f[2], reason));
        } else if (f[0] == "C" && f.size() == 3) {
            const auto it = reserved_.find(std::strtoull(f[1].c_str(), nullptr, 10));
            if (it == reserved_.end()) continue;  // never reserved in Redis: nothing to undo
            settle_shared(it->second, instance_ + "-" + f[1],
                          static_cast<std::uint32_t>(std::strtoul(f[2].c_str(), nullptr, 10)));
            reserved_.erase(it);
        }
    }
}

void PoolKeeper::settle_shared(const std::string& account, const std::string& id, std::uint32_t delivered) {
    if (!shared_->ready()) {
        unsettled_.push_back({account, id, delivered});
        return;
    }
    std::weak_ptr<int> alive = alive_;
    shared_->settle(account, id, delivered, std::nullopt, [this, alive, account, id, delivered](bool ok) {
        if (!ok && !alive.expired()) unsettled_.push_back({account, id, delivered});
    });
}

void PoolKeeper::publish_shared(const std::string& account, const std::string& stored, bool by_operator) {
    Unpublished& u = unpublished_[account];
    u.stored = stored;
    u.by_operator = by_operator;
    u.in_flight = shared_->ready();
    if (!u.in_flight) return;
    std::weak_ptr<int> alive = alive_;
    shared_->publish(account, stored, by_operator, [this, alive, account, stored](bool ok) {
        if (alive.expired()) return;
        auto it = unpublished_.find(account);
        if (it == unpublished_.end() || it->second.stored != stored) return;  // a newer one is on its way
        if (ok)
            unpublished_.erase(it);
        else
            it->second.in_flight = false;
    });
}

void PoolKeeper::retry_unpublished() {
    if (unpublished_.empty() || !shared_->ready()) return;
    std::vector<std::pair<std::string, Unpublished>> again;
    for (const auto& [account, u] : unpublished_)
        if (!u.in_flight) again.emplace_back(account, u);
    for (const auto& [account, u] : again) publish_shared(account, u.stored, u.by_operator);
}

// A settlement given twice applies once (the reservation record goes with
// the first); one whose reservation expired meanwhile changes nothing (it
// counted in full).
void PoolKeeper::retry_unsettled() {
    if (unsettled_.empty() || !shared_->ready()) return;
    auto pending = std::move(unsettled_);
    unsettled_.clear();
    for (const auto& u : pending) settle_shared(u.account, u.id, u.delivered);
}

// Redis said the account is full (other instances' sends): the local pool
// holds it back until then, as `exhausted`. Not shared (every instance
// learns it from the same windows), and never over a stronger state.
void PoolKeeper::hold_back(const pool::Reservation& r, std::int64_t until_ms) {
    const WallTime now = clock_.now();
    for (const auto& a : pool_.status(now)) {
        // (This send's own local reservation may make the account look
        // exhausted by its limits here: that is no stronger state.)
        if (a.id != r.account || (a.state != pool::State::active && a.state != pool::State::exhausted))
            continue;
        std::int64_t until = std::max(until_ms, ms_of(now) + 1000);
        if (a.state == pool::State::exhausted && a.until) until = std::max(until, ms_of(*a.until));
        pool::ParsedState p;
        p.records.push_back({"X", r.name, "exhausted", std::to_string(ms_of(now)), std::to_string(until),
                             "shared limit reached (other instances' sends)"});
        pool_.restore(p, now);
        log::info("pool", "account full in the shared windows; held back",
                  {{"account", r.name}, {"until_ms", std::to_string(until)}});
    }
}

// Newer states written by any instance (its own included) replace the
// local ones: last writer wins, in Redis's order (the sequence number).
// A sequence lower than the one seen means Redis lost data (a flush, a
// failover to a lagging replica): what it holds now is the truth.
void PoolKeeper::adopt(const std::vector<SharedAccountState>& states) {
    const WallTime now = clock_.now();
    bool changed = false;
    for (const auto& s : states) {
        if (!pool_.find(s.account)) continue;
        if (auto u = unpublished_.find(s.account); u != unpublished_.end()) {
            // This instance's own change, not in Redis yet, stays unless a
            // change made elsewhere is later (this instance alone lost Redis
            // while an operator acted on another): then that one wins.
            if (u->second.in_flight || s.since_ms <= since_of(u->second.stored)) continue;
            unpublished_.erase(u);
        }
        std::uint64_t& seen = seen_[s.account];
        if (s.seq == seen) continue;
        seen = s.seq;
        pool::ParsedState p;
        p.records.push_back(
            {"X", s.account, s.state, std::to_string(s.since_ms), std::to_string(s.until_ms), s.reason});
        pool_.restore(p, now);
        changed = true;
    }
    if (changed && on_change_) on_change_();
}

}  // namespace rp::relay
