// Idle upstream sessions per account (see session_pool.hpp).
#include "relay/session_pool.hpp"

#include <algorithm>

namespace rp::relay {
namespace {

namespace asio = boost::asio;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// How long acquire() waits for a session finishing its RSET before it opens
// another one (when the per-account limit allows), and how long shutdown()
// lets an RSET or a QUIT finish before it cuts the session.
constexpr auto kFinishingWait = std::chrono::seconds(2);

asio::awaitable<void> quit_and_close(std::shared_ptr<SessionPool> pool,
                                     std::shared_ptr<UpstreamConnection> c) {
    co_await c->quit();
    pool->quit_finished(c);
}

asio::awaitable<void> drive_rset(std::shared_ptr<SessionPool> pool, std::string account,
                                 std::shared_ptr<UpstreamConnection> c, bool counted) {
    DriveResult r = co_await c->drive(nullptr);
    pool->transaction_finished(account, c, r.halt, counted);
}

}  // namespace

void SessionPool::finish_transaction(const std::string& account, std::shared_ptr<UpstreamConnection> c) {
    // Counted only when the session may carry another message afterwards.
    const bool counted = !stopping_ && c->messages < limits_.messages_per_session;
    if (counted) ++accounts_[account].finishing;
    closing_.insert(c);
    cut_closing_soon();
    asio::co_spawn(executor_, drive_rset(shared_from_this(), account, std::move(c), counted), asio::detached);
}

void SessionPool::transaction_finished(const std::string& account,
                                       const std::shared_ptr<UpstreamConnection>& c, Halt halt,
                                       bool counted) {
    if (counted) --accounts_[account].finishing;
    closing_.erase(c);
    release(account, c, halt);
    cancel_cut_when_done();
}

void SessionPool::quit_finished(const std::shared_ptr<UpstreamConnection>& c) {
    closing_.erase(c);
    cancel_cut_when_done();
}

void SessionPool::cancel_cut_when_done() {
    if (!closing_.empty()) return;
    cut_armed_ = false;
    cut_closing_.cancel();
}

void SessionPool::notify_one(Slots& slots) {
    if (slots.waiters.empty()) return;
    asio::steady_timer* t = slots.waiters.front();
    slots.waiters.pop_front();
    t->cancel();
}

asio::awaitable<SessionPool::Lease> SessionPool::acquire(const std::string& account) {
    Slots& slots = accounts_[account];
    bool waited_for_finishing = false;
    for (;;) {
        if (stopping_) co_return Lease{};
        while (!slots.idle.empty()) {
            std::shared_ptr<UpstreamConnection> c = std::move(slots.idle.front());
            slots.idle.pop_front();
            ++c->idle_generation;
            c->idle_timer.cancel();
            if (c->looks_alive()) co_return Lease{std::move(c), true};
            c->close();
            --slots.open;
        }
        // A session finishing its RSET is idle again within one round
        // trip: cheaper to wait for it than to connect, TLS and AUTH anew
        // (Gmail counts logins). But only briefly: an RSET the upstream
        // never answers must not hold up the account's other sends.
        const bool may_open = slots.open < limits_.per_account;
        if (may_open && (slots.finishing == 0 || waited_for_finishing)) {
            ++slots.open;
            co_return Lease{nullptr, true};
        }
        waited_for_finishing = may_open;
        asio::steady_timer wake(executor_, may_open ? asio::steady_timer::clock_type::now() + kFinishingWait
                                                    : asio::steady_timer::time_point::max());
        slots.waiters.push_back(&wake);
        co_await wake.async_wait(use_tuple);
        auto it = std::find(slots.waiters.begin(), slots.waiters.end(), &wake);
        if (it != slots.waiters.end()) slots.waiters.erase(it);
    }
}

void SessionPool::release(const std::string& account, const std::shared_ptr<UpstreamConnection>& c,
                          Halt halt) {
    Slots& slots = accounts_[account];
    const bool keep = c && halt == Halt::idle && c->session().reusable() && !stopping_ &&
                      c->messages < limits_.messages_per_session;
    if (keep) {
        slots.idle.push_back(c);
        watch_idle(c);
    } else {
        --slots.open;
        if (c) close_later(c, halt == Halt::idle);
    }
    notify_one(slots);
}

void SessionPool::watch_idle(const std::shared_ptr<UpstreamConnection>& c) {
    const std::uint64_t generation = ++c->idle_generation;
    c->idle_timer.expires_after(limits_.idle_keep);
    c->idle_timer.async_wait([self = shared_from_this(), c, generation](boost::system::error_code ec) {
        if (ec || c->idle_generation != generation) return;
        self->expire_idle(c);
    });
}

void SessionPool::expire_idle(const std::shared_ptr<UpstreamConnection>& c) {
    Slots& slots = accounts_[c->account()];
    auto it = std::find(slots.idle.begin(), slots.idle.end(), c);
    if (it == slots.idle.end()) return;
    slots.idle.erase(it);
    --slots.open;
    close_later(c, true);
    notify_one(slots);
}

void SessionPool::close_later(const std::shared_ptr<UpstreamConnection>& c, bool polite) {
    if (!polite) {
        c->close();
        return;
    }
    closing_.insert(c);
    cut_closing_soon();
    asio::co_spawn(executor_, quit_and_close(shared_from_this(), c), asio::detached);
}

void SessionPool::shutdown() {
    stopping_ = true;
    for (auto& [name, slots] : accounts_) {
        for (auto& c : slots.idle) {
            ++c->idle_generation;
            c->idle_timer.cancel();
            --slots.open;
            close_later(c, true);
        }
        slots.idle.clear();
        while (!slots.waiters.empty()) notify_one(slots);
    }
    cut_closing_soon();
}

// An RSET or a QUIT is answered within a round trip; one the upstream never
// answers would hold a stopping process until the command timeout.
// drive_rset and quit_and_close see the closed socket and end. Also armed by
// a session that begins its last exchange after shutdown() (a delivery that
// outlived the stop).
void SessionPool::cut_closing_soon() {
    if (!stopping_ || cut_armed_ || closing_.empty()) return;
    cut_armed_ = true;
    cut_closing_.expires_after(kFinishingWait);
    cut_closing_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;  // cancelled: nothing left to cut (cut_armed_ reset there)
        self->cut_armed_ = false;
        for (const auto& c : self->closing_) c->close();
    });
}

std::uint64_t SessionPool::open_sessions() const {
    std::uint64_t n = 0;
    for (const auto& [name, slots] : accounts_) n += slots.open;
    return n;
}

std::uint64_t SessionPool::idle_sessions() const {
    std::uint64_t n = 0;
    for (const auto& [name, slots] : accounts_) n += slots.idle.size();
    return n;
}

}  // namespace rp::relay
