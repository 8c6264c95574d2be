// One delivery attempt (see delivery.hpp for the invariants). The flow:
// load -> expired? -> pick an account -> persist active -> transport ->
// classify each recipient -> DSN for bounces -> persist -> remove or
// reschedule. Each step is a small function; errors are dispositions.
#include "relay/delivery.hpp"

#include <algorithm>
#include <random>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "protocol/backoff.hpp"
#include "relay/bounce.hpp"
#include "relay/delivery_outcome.hpp"
#include "relay/spool_await.hpp"

namespace rp::relay {

namespace {

using protocol::Verdict;
using Kind = Disposition::Kind;

double jitter(const DeliveryOptions& options) {
    if (options.jitter) return options.jitter();
    static std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

WallTime expiry_of(const DeliveryContext& ctx, const spool::QueuedMessage& m) {
    return m.envelope.arrival + ctx.options.max_age;
}

// The next attempt after a failure, never later than the message's expiry.
WallTime backoff_at(const DeliveryContext& ctx, const spool::QueuedMessage& m, std::uint32_t attempts,
                    WallTime now) {
    const auto delay = protocol::next_delay(std::max<std::uint32_t>(attempts, 1), ctx.options.retry_initial,
                                            ctx.options.retry_max, jitter(ctx.options));
    return std::min(now + delay, std::max(expiry_of(ctx, m), now));
}

std::vector<std::size_t> pending_indexes(const spool::DeliveryState& s) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < s.recipients.size(); ++i)
        if (s.recipients[i].status == spool::RecipientStatus::pending) out.push_back(i);
    return out;
}

void add_history(spool::DeliveryState& s, WallTime at, std::string account, std::string result) {
    s.history.push_back(spool::AttemptRecord{at, std::move(account), std::move(result)});
    if (s.history.size() > spool::DeliveryState::max_history)
        s.history.erase(s.history.begin(), s.history.end() - spool::DeliveryState::max_history);
}

// Releases a reservation unless settled explicitly (exceptions, early
// returns): an account's in-flight count never leaks.
class SettleGuard {
  public:
    SettleGuard(PoolKeeper& k, const pool::Reservation& r, const Clock& c)
        : keeper_(k), reservation_(r), clock_(c) {}
    ~SettleGuard() {
        if (!done_) settle(0);
    }
    void settle(std::size_t delivered) {
        done_ = true;
        keeper_.pool().settle(reservation_, delivered, clock_.now());
        keeper_.flush_soon();
    }

  private:
    PoolKeeper& keeper_;
    const pool::Reservation& reservation_;
    const Clock& clock_;
    bool done_ = false;
};

// Writes the message's state. When the write fails (disk full, EMFILE) the
// state is kept in memory (ctx.unsaved) and the attempt goes on as if it had
// been written: the next attempt starts from it and writes it again, so a
// recipient the upstream accepted is never sent again while this process
// runs. (A crash before a later write succeeds falls back to the last
// durable state: the documented duplicate window.)
boost::asio::awaitable<std::error_code> persist(DeliveryContext& ctx, const std::string& id,
                                                const spool::DeliveryState& state) {
    const std::error_code ec = co_await async_update_state(ctx.spool, id, state);
    if (ec) {
        if (!ctx.unsaved.count(id))
            log::error("delivery", "state write failed; the outcome is kept in memory and written later",
                       {{"id", id}, {"error", ec.message()}});
        ctx.unsaved[id] = state;
    } else {
        ctx.unsaved.erase(id);
    }
    co_return ec;
}

// The unlinks run on the spool's delivery I/O thread (ext4 journal waits stay
// off the event loop); a failure keeps the final state in memory and retries.
boost::asio::awaitable<Disposition> remove_finished(DeliveryContext& ctx, const std::string& id, WallTime now,
                                                    const spool::DeliveryState& final_state) {
    const std::error_code ec = co_await async_remove(ctx.spool, id);
    if (ec && ec != make_error_code(spool::SpoolErrc::not_found)) {
        log::error("delivery", "remove failed; will retry", {{"id", id}, {"error", ec.message()}});
        // A clean finish skipped its state write: write it now, so that a
        // restart before the retry removes the message finds it finished
        // instead of sending it again. A failed write keeps it in
        // ctx.unsaved (persist); nothing is pending, the retry only removes it.
        co_await persist(ctx, id, final_state);
        ctx.unsaved[id] = final_state;
        co_return Disposition{Kind::due_at, now + ctx.options.retry_initial};
    }
    ctx.unsaved.erase(id);
    co_return Disposition{Kind::removed, {}};
}

// queue.max_age passed: every pending recipient bounces (DSN), the message goes.
boost::asio::awaitable<Disposition> expire(DeliveryContext& ctx, const spool::QueuedMessage& original,
                                           WallTime now) {
    spool::QueuedMessage m = original;
    std::vector<BouncedRecipient> bounced;
    for (std::size_t i : pending_indexes(m.state)) {
        protocol::UpstreamOutcome reply{protocol::Stage::connect, 0, "", m.state.recipients[i].last_reply,
                                        protocol::LocalFailure::none};
        bounced.push_back(BouncedRecipient{i, reply, "4.4.7"});
    }
    const std::string reason = "delivery time expired (queue.max_age); last error: " +
                               (m.state.last_error.empty() ? std::string("none") : m.state.last_error);
    auto dsn = co_await queue_bounce(ctx, m, bounced, reason);
    if (!dsn) {
        log::error("delivery", "could not queue the expiry DSN; will retry",
                   {{"id", m.id}, {"error", dsn.error.message()}});
        co_return Disposition{Kind::due_at, now + ctx.options.retry_initial};
    }
    for (const auto& b : bounced) {
        m.state.recipients[b.index].status = spool::RecipientStatus::bounced;
        m.state.recipients[b.index].last_reply = "expired: " + m.state.recipients[b.index].last_reply;
    }
    m.state.last_error = "expired";
    add_history(m.state, now, "", "bounced: expired after queue.max_age");
    co_await persist(ctx, m.id, m.state);  // a failure keeps it in memory (see persist)
    for (std::size_t k = 0; k < bounced.size(); ++k) ctx.metrics.bounced("expired");
    log::warn("delivery", "expired",
              {{"id", m.id},
               {"recipients", std::to_string(bounced.size())},
               {"dsn", dsn.value.empty() ? "none" : dsn.value}});
    const Disposition d = co_await remove_finished(ctx, m.id, now, m.state);
    co_return d;
}

// No account usable: deferred (reason no_account), held until one is.
boost::asio::awaitable<Disposition> hold(DeliveryContext& ctx, const spool::QueuedMessage& original,
                                         WallTime now) {
    static const std::string kNoAccount = "no usable account";
    if (original.state.state == spool::MessageState::deferred && original.state.last_error == kNoAccount) {
        // Held before for the same reason: nothing new to write down.
        ctx.metrics.deferred("", metrics::deferral::no_account);
        co_return Disposition{Kind::held, expiry_of(ctx, original)};
    }
    spool::QueuedMessage m = original;
    m.state.state = spool::MessageState::deferred;
    m.state.next_attempt = expiry_of(ctx, m);
    m.state.last_error = kNoAccount;
    add_history(m.state, now, "", "deferred: no usable account");
    co_await persist(ctx, m.id, m.state);  // a failure keeps it in memory (see persist)
    ctx.metrics.deferred("", metrics::deferral::no_account);
    co_return Disposition{Kind::held, expiry_of(ctx, m)};
}

// Records bounced recipients after their DSN is durable (or none is due).
// false: the DSN could not be queued; they stay pending.
boost::asio::awaitable<bool> record_bounces(DeliveryContext& ctx, const spool::QueuedMessage& m,
                                            spool::DeliveryState& state, const Tally& t,
                                            const std::string& account) {
    if (t.bounced.empty()) co_return true;
    auto dsn =
        co_await queue_bounce(ctx, m, t.bounced, "the upstream server refused the message permanently");
    if (!dsn) {
        log::error("delivery", "could not queue a DSN; recipients stay pending",
                   {{"id", m.id}, {"error", dsn.error.message()}});
        co_return false;
    }
    if (m.envelope.spec.mail_from.empty())
        log::info("delivery", "bounce of a bounce suppressed (null sender)", {{"id", m.id}});
    for (const auto& b : t.bounced) {
        state.recipients[b.index].status = spool::RecipientStatus::bounced;
        state.recipients[b.index].account = account;
    }
    co_return true;
}

void count_attempt(DeliveryContext& ctx, const spool::QueuedMessage& m, const Tally& t, bool bounces_recorded,
                   const std::string& account, bool pending_left, WallTime now) {
    if (t.delivered > 0)
        ctx.metrics.delivered(account, std::chrono::duration<double>(now - m.envelope.arrival).count());
    if (bounces_recorded)
        for (std::size_t k = 0; k < t.bounced.size(); ++k) ctx.metrics.bounced("rejected");
    const auto& why = t.blame ? t.blame : t.deferral;
    if (pending_left && why) {
        auto reason = protocol::deferral_reason(why->outcome, why->verdict);
        ctx.metrics.deferred(account, reason.empty() ? metrics::deferral::temporary : reason);
    }
}

// After the transport answered: classify, DSN, persist, then act.
boost::asio::awaitable<Disposition> conclude(DeliveryContext& ctx, const spool::QueuedMessage& m,
                                             spool::DeliveryState state, const std::vector<std::size_t>& sent,
                                             const DeliveryReport& report,
                                             const pool::Reservation& reservation, SettleGuard& guard) {
    WallTime now = ctx.clock.now();
    const std::string& account = reservation.name;
    const Tally t = tally(match_results(m, sent, report, ctx.options.sender_rewrite), state, account);
    // No reply after the end of the message: the upstream may have taken it
    // and counted it, so the pool counts it too (the retry counts again:
    // over-counting keeps the account under its real limit, the other way
    // round would walk it into 550 5.4.5).
    guard.settle(report.end_unanswered ? std::max(t.delivered, sent.size()) : t.delivered);
    if (t.blame) {
        if (auto blame = blame_of(t.blame->verdict))
            ctx.pool.pool().blame(reservation.account, *blame, describe(t.blame->outcome), now);
    } else if (t.deferral) {
        ctx.pool.pool().note_error(reservation.account, describe(t.deferral->outcome));
    }
    ctx.pool.flush_soon();

    const bool bounces_recorded = co_await record_bounces(ctx, m, state, t, account);
    const std::vector<std::size_t> pending = pending_indexes(state);
    const bool unsent_left = std::any_of(pending.begin(), pending.end(), [&](std::size_t i) {
        return std::find(sent.begin(), sent.end(), i) == sent.end();
    });
    const bool now_again = bounces_recorded && (t.blame || (!t.deferral && unsent_left));
    state.state = now_again ? spool::MessageState::ready : spool::MessageState::deferred;
    state.next_attempt = now_again ? WallTime{} : backoff_at(ctx, m, state.attempts, now);
    if (const auto& why = t.blame ? t.blame : t.deferral) state.last_error = describe(why->outcome);
    add_history(state, now, account, summarize(t, sent.size()));

    // Every recipient delivered with nothing to bounce: the message is simply
    // removed. A final "all delivered" state write would only narrow the
    // power-loss duplicate window (docs/delivery.md) at the price of two
    // more fsyncs per message on the hot path.
    const bool finished_cleanly = pending.empty() && t.bounced.empty();
    if (!finished_cleanly) co_await persist(ctx, m.id, state);  // a failure keeps it in memory
    count_attempt(ctx, m, t, bounces_recorded, account, !pending.empty(), now);
    log::info("delivery", "attempt",
              {{"id", m.id}, {"account", account}, {"result", summarize(t, sent.size())}});
    if (pending.empty()) {
        const Disposition d = co_await remove_finished(ctx, m.id, now, state);
        co_return d;
    }
    co_return Disposition{Kind::due_at, now_again ? now : state.next_attempt};
}

DeliveryRequest make_request(const DeliveryContext& ctx, const spool::QueuedMessage& m,
                             config::Account account, const std::vector<std::size_t>& sent,
                             const spool::BodyRef& body) {
    const spool::EnvelopeSpec& spec = m.envelope.spec;
    DeliveryRequest r;
    r.message_id = m.id;
    r.account = std::move(account);
    r.mail_from = upstream_mail_from(ctx.options.sender_rewrite, spec.mail_from, r.account);
    r.original_from = spec.mail_from;
    for (std::size_t i : sent) r.recipients.push_back(spec.recipients[i].address);
    r.message_path = body.path;
    r.body_offset = body.offset;
    r.body_size = body.size;
    r.body_8bitmime = spec.body_8bitmime;
    r.smtputf8 = spec.smtputf8;
    return r;
}

// A message that failed its integrity check can never be delivered: retrying
// it would only fail again, forever (the expiry check needs the envelope).
// Keep it for an operator under quarantine/ (logged; counted by the spool in
// relaypool_spool_errors_total{kind="quarantined"}) and drop it from the
// schedule. If even the move fails (an I/O error), retry later.
Disposition quarantine_corrupt(DeliveryContext& ctx, const std::string& id, WallTime now) {
    const auto ec = ctx.spool.quarantine(id, "failed its integrity check at delivery");
    if (!ec || ec == make_error_code(spool::SpoolErrc::not_found)) {
        log::error("delivery", "message failed its integrity check; quarantined, not delivered",
                   {{"id", id}});
        return {Kind::removed, {}};
    }
    log::error("delivery", "cannot quarantine a corrupt message; will retry",
               {{"id", id}, {"error", ec.message()}});
    return {Kind::due_at, now + ctx.options.retry_initial};
}

// Load what the attempt needs; a disposition when it cannot go on. Only
// SpoolErrc::corrupt is a verdict on the message; an OS error (EIO, EMFILE,
// ENOMEM) is transient and keeps it queued with a backoff.
// Read off the event loop (a cold page cache costs disk reads).
boost::asio::awaitable<std::optional<Disposition>> load(DeliveryContext& ctx, const std::string& id,
                                                        WallTime now, spool::QueuedMessage& out) {
    auto loaded = co_await async_load(ctx.spool, id);
    now = ctx.clock.now();  // (the read may have waited for the disk)
    if (loaded.error == make_error_code(spool::SpoolErrc::not_found))
        co_return Disposition{Kind::removed, {}};
    if (loaded.error == make_error_code(spool::SpoolErrc::corrupt))
        co_return quarantine_corrupt(ctx, id, now);
    if (!loaded) {
        const auto summary = ctx.spool.summary(id);
        const std::uint32_t attempts = summary ? summary.value.attempts : 0;
        const auto delay =
            protocol::next_delay(std::max<std::uint32_t>(attempts, 1), ctx.options.retry_initial,
                                 ctx.options.retry_max, jitter(ctx.options));
        log::error("delivery", "cannot load message; will retry",
                   {{"id", id}, {"error", loaded.error.message()}});
        co_return Disposition{Kind::due_at, now + delay};
    }
    out = std::move(loaded.value);
    co_return std::nullopt;
}

}  // namespace

std::string upstream_mail_from(config::SenderRewrite rewrite, const std::string& original,
                               const config::Account& account) {
    // The null sender stays null: a DSN must go out from <> (RFC 5321 4.5.5).
    if (rewrite == config::SenderRewrite::none || original.empty()) return original;
    return account.username;
}

boost::asio::awaitable<Disposition> attempt_delivery(DeliveryContext& ctx, std::string id) {
    WallTime now = ctx.clock.now();
    spool::QueuedMessage m;
    const std::optional<Disposition> not_loaded = co_await load(ctx, id, now, m);
    if (not_loaded) co_return *not_loaded;
    now = ctx.clock.now();
    if (auto it = ctx.unsaved.find(id); it != ctx.unsaved.end()) {
        // An earlier outcome is newer than the disk: start from it, and try
        // to write it down again.
        m.state = it->second;
        co_await persist(ctx, id, m.state);
    }
    std::vector<std::size_t> pending = pending_indexes(m.state);
    if (pending.empty()) {  // finished before a crash
        const Disposition d = co_await remove_finished(ctx, id, now, m.state);
        co_return d;
    }
    if (now >= expiry_of(ctx, m)) {
        const Disposition d = co_await expire(ctx, m, now);
        co_return d;
    }

    const std::string& first = m.envelope.spec.recipients[pending.front()].address;
    const pool::Reservation reservation = ctx.pool.pool().reserve(pending.size(), first, now);
    if (!reservation) {
        if (reservation.busy) co_return Disposition{Kind::busy, now};
        const Disposition d = co_await hold(ctx, m, now);
        co_return d;
    }
    SettleGuard guard(ctx.pool, reservation, ctx.clock);
    const std::vector<std::size_t> sent(pending.begin(),
                                        pending.begin() + std::min(reservation.recipients, pending.size()));

    auto body = ctx.spool.open_body(id);
    if (!body) {
        if (body.error == make_error_code(spool::SpoolErrc::not_found))
            co_return Disposition{Kind::removed, {}};
        log::error("delivery", "cannot open body; will retry", {{"id", id}, {"error", body.error.message()}});
        co_return Disposition{Kind::due_at, backoff_at(ctx, m, m.state.attempts + 1, now)};
    }
    // The attempt is not written down before it starts: a crash mid-attempt
    // leaves the last durable state, which recovery treats exactly like an
    // interrupted `active` one (ready, pending recipients retried). Writing
    // it would cost a file fsync, a rename and a directory fsync per message
    // (measured: a third of the spool's fsyncs) and change nothing on
    // recovery. The outcome is persisted in conclude() before it is acted on.
    spool::DeliveryState active = m.state;
    active.state = spool::MessageState::active;
    ++active.attempts;

    // The send is in pool.state before it starts; if it cannot be recorded,
    // it does not start (the guard releases the reservation).
    // Shared (Redis) pool state: another instance may have used the room
    // (the account is held back: pick again now), or Redis is unreachable
    // (the message waits with the others until it is back).
    const std::error_code recorded = co_await ctx.pool.durable(reservation);
    if (recorded == make_error_code(SharedErrc::full)) co_return Disposition{Kind::due_at, now};
    if (recorded == make_error_code(SharedErrc::unavailable)) {
        const Disposition d = co_await hold(ctx, m, now);
        co_return d;
    }
    if (recorded) co_return Disposition{Kind::due_at, backoff_at(ctx, m, m.state.attempts + 1, now)};
    auto credentials = ctx.pool.pool().credentials(reservation.account);
    if (!credentials) co_return Disposition{Kind::due_at, now};
    const DeliveryReport report =
        co_await ctx.transport.deliver(make_request(ctx, m, std::move(*credentials), sent, body.value));
    const Disposition d = co_await conclude(ctx, m, std::move(active), sent, report, reservation, guard);
    co_return d;
}

}  // namespace rp::relay
