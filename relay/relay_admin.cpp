// Relay facade, admin half: the JSON answers behind `relaypool queue ...` and
// `relaypool pool ...` (shapes documented in relay.hpp). Reads go to the
// spool (envelopes are loaded one at a time, never kept); changes go through
// the engine so the scheduler and the pool stay consistent.
#include <algorithm>

#include "relay/admin_json.hpp"
#include "relay/relay.hpp"
#include "relay/relay_impl.hpp"

namespace rp::relay {

namespace {

// Each listed message is one envelope read on the event loop: cap the list
// so a huge queue cannot stall the loop (the oldest messages come first).
constexpr std::size_t kMaxListed = 10000;

AdminResponse not_running() {
    return {503, json::error("relay engine not running")};
}
AdminResponse not_found(std::string_view what) {
    return {404, json::error(std::string(what))};
}

std::string recipients_array(const spool::EnvelopeSpec& spec) {
    std::string out = "[";
    for (const auto& r : spec.recipients) out += json::quote(r.address) + ",";
    json::close(out, ']');
    return out;
}

std::string shown_state(const Engine& engine, const std::string& id, spool::MessageState stored) {
    return std::string(engine.scheduler().is_active(id) ? "active" : to_string(stored));
}

std::string list_item(const Engine& engine, const spool::QueuedMessage& m, WallTime now) {
    std::string o = "{";
    json::field(o, "id", json::quote(m.id));
    json::field(o, "age_seconds", json::seconds(now - m.envelope.arrival));
    json::field(o, "state", json::quote(shown_state(engine, m.id, m.state.state)));
    json::field(o, "attempts", std::to_string(m.state.attempts));
    json::field(o, "sender", json::quote(m.envelope.spec.mail_from));
    json::field(o, "recipients", recipients_array(m.envelope.spec));
    json::field(o, "last_error", json::quote(m.state.last_error));
    const auto next = m.state.next_attempt > now ? m.state.next_attempt - now : WallTime::duration{0};
    json::field(o, "next_attempt_in_seconds", json::seconds(next));
    json::close(o, '}');
    return o;
}

std::string envelope_object(const spool::QueuedMessage& m) {
    const spool::EnvelopeSpec& s = m.envelope.spec;
    std::string o = "{";
    json::field(o, "mail_from", json::quote(s.mail_from));
    json::field(o, "ret", json::quote(s.ret));
    json::field(o, "envid", json::quote(s.envid));
    json::field(o, "listener", json::quote(s.listener));
    json::field(o, "client_addr", json::quote(s.client_addr));
    json::field(o, "auth_user", json::quote(s.auth_user));
    json::field(o, "size", std::to_string(m.body_size));
    json::close(o, '}');
    return o;
}

std::string recipient_states(const spool::QueuedMessage& m) {
    std::string out = "[";
    for (std::size_t i = 0; i < m.state.recipients.size(); ++i) {
        const spool::RecipientState& r = m.state.recipients[i];
        std::string o = "{";
        json::field(o, "address",
                    json::quote(i < m.envelope.spec.recipients.size() ? m.envelope.spec.recipients[i].address
                                                                      : std::string()));
        json::field(o, "status", json::quote(to_string(r.status)));
        json::field(o, "attempts", std::to_string(r.attempts));
        json::field(o, "last_reply", json::quote(r.last_reply));
        json::field(o, "account", json::quote(r.account));
        json::close(o, '}');
        out += o + ",";
    }
    json::close(out, ']');
    return out;
}

std::string history_array(const spool::DeliveryState& s) {
    std::string out = "[";
    for (const auto& h : s.history) {
        std::string o = "{";
        json::field(o, "at", json::time(h.at));
        json::field(o, "account", json::quote(h.account));
        json::field(o, "result", json::quote(h.result));
        json::close(o, '}');
        out += o + ",";
    }
    json::close(out, ']');
    return out;
}

}  // namespace

AdminResponse Relay::queue_list() const {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    const WallTime now = core->clock.now();
    const auto ids = core->spool->list();
    std::string body = "{\"messages\":[";
    std::size_t listed = 0;
    for (const auto& id : ids) {
        if (listed == kMaxListed) break;
        auto m = core->spool->load(id);
        if (!m) continue;  // removed meanwhile
        body += list_item(*core->engine, m.value, now) + ",";
        ++listed;
    }
    json::close(body, ']');
    if (ids.size() > listed) body += ",\"total\":" + std::to_string(ids.size()) + ",\"truncated\":true";
    return {200, body + "}"};
}

AdminResponse Relay::queue_show(std::string_view id) const {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    auto loaded = core->spool->load(std::string(id));
    if (!loaded) return not_found("no such message");
    const spool::QueuedMessage& m = loaded.value;
    const WallTime now = core->clock.now();
    std::string o = "{";
    json::field(o, "id", json::quote(m.id));
    json::field(o, "arrival", json::time(m.envelope.arrival));
    json::field(o, "age_seconds", json::seconds(now - m.envelope.arrival));
    json::field(o, "state", json::quote(shown_state(*core->engine, m.id, m.state.state)));
    json::field(o, "attempts", std::to_string(m.state.attempts));
    json::field(o, "next_attempt", json::time(m.state.next_attempt));
    json::field(o, "last_error", json::quote(m.state.last_error));
    json::field(o, "envelope", envelope_object(m));
    json::field(o, "recipients", recipient_states(m));
    json::field(o, "history", history_array(m.state));
    json::close(o, '}');
    return {200, o};
}

AdminResponse Relay::queue_retry(std::string_view id) {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    const std::string key(id);
    if (!core->engine->scheduler().contains(key)) return not_found("no such message");
    const bool retried = core->engine->retry(key);  // false: a delivery is running right now
    return {200, std::string("{\"retried\":") + (retried ? "1" : "0") + "}"};
}

AdminResponse Relay::queue_retry_all() {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    return {200, "{\"retried\":" + std::to_string(core->engine->retry_all()) + "}"};
}

AdminResponse Relay::queue_delete(std::string_view id) {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    switch (core->engine->erase(std::string(id))) {
        case Engine::EraseResult::erased:
            return {200, "{\"deleted\":" + json::quote(id) + "}"};
        case Engine::EraseResult::not_found:
            return not_found("no such message");
        case Engine::EraseResult::active:
            return {409, json::error("a delivery of this message is running; try again")};
        case Engine::EraseResult::failed:
            return {500, json::error("could not remove the message files")};
    }
    return {500, json::error("unexpected")};
}

AdminResponse Relay::pool_status() const {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    std::string body = "{\"accounts\":[";
    for (const auto& s : core->pool.status(core->clock.now())) {
        std::string o = "{";
        json::field(o, "name", json::quote(s.name));
        json::field(o, "state", json::quote(pool::to_string(s.state)));
        json::field(o, "reason", json::quote(s.reason));
        json::field(o, "since", json::time(s.since));
        json::field(o, "sent_24h", std::to_string(s.day.messages));
        json::field(o, "limit", std::to_string(s.limits.daily));
        json::field(o, "recipients_24h", std::to_string(s.day.recipients));
        json::field(o, "recipient_limit", std::to_string(s.limits.recipients));
        json::field(o, "sent_1h", std::to_string(s.hour_messages));
        json::field(o, "hourly_limit", std::to_string(s.limits.hourly));
        json::field(o, "warmup_day", s.limits.ramp_day ? std::to_string(*s.limits.ramp_day) : "null");
        json::field(o, "cooldown_until", s.until ? json::time(*s.until) : "\"\"");
        json::field(o, "last_error", json::quote(s.last_error));
        json::field(o, "in_flight", std::to_string(s.in_flight));
        json::close(o, '}');
        body += o + ",";
    }
    json::close(body, ']');
    return {200, body + "}"};
}

AdminResponse Relay::pool_pause(std::string_view account) {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    if (!core->engine->pause(std::string(account))) return not_found("no such account");
    return {200, "{\"account\":" + json::quote(account) + ",\"state\":\"paused\"}"};
}

AdminResponse Relay::pool_resume(std::string_view account) {
    Core* core = impl_->core.get();
    if (!core) return not_running();
    if (!core->engine->resume(std::string(account))) return not_found("no such account");
    for (const auto& s : core->pool.status(core->clock.now()))
        if (s.name == account)
            return {200, "{\"account\":" + json::quote(account) +
                             ",\"state\":" + json::quote(pool::to_string(s.state)) + "}"};
    return {200, "{\"account\":" + json::quote(account) + "}"};
}

}  // namespace rp::relay
