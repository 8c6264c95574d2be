// Engine: the delivery loop and its wakeups (see engine.hpp).
#include "relay/engine.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <limits>

#include "common/log.hpp"
#include "metrics/metrics.hpp"

namespace rp::relay {

namespace {
// Upper bound of one sleep: gauges (oldest age) stay fresh and a missed
// wakeup heals itself.
constexpr std::chrono::milliseconds kMaxSleep = std::chrono::seconds(30);
}  // namespace

Engine::Engine(boost::asio::any_io_executor executor, DeliveryContext context, EngineOptions options)
    : executor_(executor),
      context_(std::move(context)),
      options_(std::move(options)),
      scheduler_(options_.max_active),
      timer_(executor),
      grace_timer_(executor) {}

Engine::~Engine() {
    alive_.reset();
}

void Engine::start(const std::vector<spool::MessageSummary>& recovered) {
    if (started_) return;
    started_ = true;
    for (spool::MessageSummary s : recovered) {
        s.next_attempt = WallTime{};  // every recovered message is ready again
        s.state = spool::MessageState::ready;
        scheduler_.add(s);
    }
    std::weak_ptr<int> alive = alive_;
    context_.spool.set_commit_listener([this, alive, ex = executor_](const spool::MessageSummary& s) {
        boost::asio::post(ex, [this, alive, s] {
            if (alive.expired() || stopped_) return;
            scheduler_.add(s);
            poke();
        });
    });
    auto keep = options_.keepalive.lock();
    boost::asio::co_spawn(executor_, loop(), [keep, alive](std::exception_ptr e) {
        if (e && !alive.expired()) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error("engine", "delivery loop failed (bug)", {{"error", ex.what()}});
            }
        }
    });
    log::info(
        "engine", "started",
        {{"queued", std::to_string(recovered.size())}, {"window", std::to_string(scheduler_.max_active())}});
}

void Engine::poke() {
    poked_ = true;
    if (waiting_) timer_.cancel();
}

boost::asio::awaitable<void> Engine::loop() {
    while (!stopping_) {
        poked_ = false;
        const WallTime now = context_.clock.now();
        pool::Pool& accounts = context_.pool.pool();
        // (Shared pool state: no send starts while Redis is unreachable.)
        const bool usable = accounts.any_usable(now) && context_.pool.can_send();
        const std::size_t slots = usable ? accounts.free_slots(now) : 0;
        if (slots > 0 && scheduler_.held() > 0) {
            const std::size_t n = scheduler_.wake_held(now, slots);
            if (n > 0)
                log::debug("engine", "account usable again: held messages due now",
                           {{"messages", std::to_string(n)}});
        }
        // With no usable account every due message is taken so its attempt
        // records the no_account deferral and holds it.
        const std::size_t room = usable ? slots : std::numeric_limits<std::size_t>::max();
        for (const auto& id : scheduler_.take_due(now, room)) launch(id);
        publish(now);
        if (poked_ || stopping_) continue;
        timer_.expires_after(wait_time(now));
        waiting_ = true;
        co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        waiting_ = false;
    }
}

std::chrono::milliseconds Engine::wait_time(WallTime now) const {
    std::chrono::milliseconds wait = kMaxSleep;
    auto until = [&](WallTime t) {
        if (t > now) wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(t - now));
    };
    // A due time already passed means the window or the accounts are full:
    // a finishing delivery pokes us.
    if (auto due = scheduler_.next_due()) until(*due);
    if (auto change = context_.pool.pool().next_change(now)) until(*change);
    return wait;
}

void Engine::launch(const std::string& id) {
    auto keep = options_.keepalive.lock();
    std::weak_ptr<int> alive = alive_;
    boost::asio::co_spawn(
        executor_, attempt_delivery(context_, id),
        [this, keep, alive, id](std::exception_ptr e, Disposition d) {
            if (alive.expired()) return;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    log::error("engine", "delivery attempt failed (bug)", {{"id", id}, {"error", ex.what()}});
                }
                d = Disposition{Disposition::Kind::due_at,
                                context_.clock.now() + context_.options.retry_initial};
            }
            on_finished(id, d);
        });
}

void Engine::on_finished(const std::string& id, Disposition d) {
    if (d.kind == Disposition::Kind::removed) context_.unsaved.erase(id);
    scheduler_.finished(id, d);
    // A send ended (its connection slot is free): messages parked because
    // their account was busy may go now.
    if (d.kind != Disposition::Kind::busy) scheduler_.wake_parked(context_.clock.now());
    if (stopping_) {
        if (scheduler_.active() == 0) finish_stop();
        return;
    }
    poke();
}

void Engine::publish(WallTime now) {
    const QueueDepth depth = scheduler_.depth();
    context_.metrics.set_queue_depth(static_cast<double>(depth.ready), static_cast<double>(depth.active),
                                     static_cast<double>(depth.deferred));
    const auto oldest = scheduler_.oldest_arrival();
    context_.metrics.set_queue_oldest_age(oldest ? std::chrono::duration<double>(now - *oldest).count()
                                                 : 0.0);
    std::vector<std::string> accounts;
    for (const auto& a : context_.pool.pool().status(now)) {
        context_.metrics.set_account(a.name, pool::to_string(a.state), a.day.messages, a.limits.daily);
        accounts.push_back(a.name);
    }
    if (options_.on_publish) options_.on_publish(now);
    // After on_publish: the token source still knows accounts a reload removed.
    context_.metrics.retain_accounts(accounts);
}

void Engine::stop(std::function<void()> on_stopped) {
    if (stopped_ || (stopping_ && on_stopped_)) {
        if (on_stopped) boost::asio::post(executor_, std::move(on_stopped));
        return;
    }
    on_stopped_ = std::move(on_stopped);
    stopping_ = true;
    timer_.cancel();
    context_.transport.shutdown();
    if (scheduler_.active() == 0) {
        finish_stop();
        return;
    }
    log::info("engine", "stopping: waiting for deliveries",
              {{"active", std::to_string(scheduler_.active())}});
    grace_timer_.expires_after(options_.stop_grace);
    std::weak_ptr<int> alive = alive_;
    grace_timer_.async_wait([this, alive](boost::system::error_code ec) {
        if (ec || alive.expired() || stopped_) return;
        log::warn("engine", "stop grace over: abandoning deliveries (messages stay queued)",
                  {{"active", std::to_string(scheduler_.active())}});
        finish_stop();
    });
}

void Engine::finish_stop() {
    if (stopped_) return;
    stopped_ = true;
    grace_timer_.cancel();
    log::info("engine", "stopped");
    if (on_stopped_) boost::asio::post(executor_, std::move(on_stopped_));
}

bool Engine::retry(const std::string& id) {
    if (!scheduler_.make_due(id, context_.clock.now())) return false;
    poke();
    return true;
}

std::size_t Engine::retry_all() {
    const std::size_t n = scheduler_.make_all_due(context_.clock.now());
    poke();
    return n;
}

Engine::EraseResult Engine::erase(const std::string& id) {
    if (!scheduler_.contains(id)) return EraseResult::not_found;
    if (scheduler_.is_active(id)) return EraseResult::active;
    if (auto ec = context_.spool.remove(id); ec && ec != make_error_code(spool::SpoolErrc::not_found)) {
        log::error("engine", "delete failed", {{"id", id}, {"error", ec.message()}});
        return EraseResult::failed;
    }
    scheduler_.erase(id);
    context_.unsaved.erase(id);
    context_.metrics.bounced("deleted");
    log::warn("engine", "message deleted by operator", {{"id", id}});
    poke();
    return EraseResult::erased;
}

bool Engine::pause(const std::string& account) {
    if (!context_.pool.pool().pause(account, context_.clock.now())) return false;
    context_.pool.flush_soon();
    poke();
    return true;
}

bool Engine::resume(const std::string& account) {
    if (!context_.pool.pool().resume(account, context_.clock.now())) return false;
    context_.pool.flush_soon();
    poke();
    return true;
}

}  // namespace rp::relay
