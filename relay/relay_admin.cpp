// Relay facade, admin half: the JSON answers behind `relaypool queue ...` and
// `relaypool pool ...` (shapes documented in relay.hpp). Listings are paged
// from the spool's in-memory index; what needs the disk (a page's envelopes,
// one message) is read on the spool's admin-read thread, never on the event
// loop that serves every SMTP session. Engine state (is a delivery running)
// is taken on the loop before that. Changes go through the engine so the
// scheduler and the pool stay consistent.
#include <algorithm>
#include <vector>

#include "relay/admin_json.hpp"
#include "relay/relay.hpp"
#include "relay/relay_impl.hpp"

namespace rp::relay {

namespace {

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

std::string shown_state(bool active, spool::MessageState stored) {
    return std::string(active ? "active" : to_string(stored));
}

std::string seconds_until(WallTime at, WallTime now) {
    return json::seconds(at > now ? at - now : WallTime::duration{0});
}

// One listed message: the index summary, with sender, recipients and last
// error from its envelope when it could be read (a message that cannot be
// read right now is still listed, from the index alone).
std::string list_item(const spool::MessageSummary& s, const spool::QueuedMessage* m, bool active,
                      WallTime now) {
    std::string o = "{";
    json::field(o, "id", json::quote(s.id));
    json::field(o, "age_seconds", json::seconds(now - s.arrival));
    json::field(o, "state", json::quote(shown_state(active, m ? m->state.state : s.state)));
    json::field(o, "attempts", std::to_string(m ? m->state.attempts : s.attempts));
    json::field(o, "sender", json::quote(m ? m->envelope.spec.mail_from : std::string()));
    json::field(o, "recipients", m ? recipients_array(m->envelope.spec) : std::string("[]"));
    json::field(o, "last_error", json::quote(m ? m->state.last_error : std::string()));
    json::field(o, "next_attempt_in_seconds", seconds_until(m ? m->state.next_attempt : s.next_attempt, now));
    json::field(o, "size", std::to_string(s.body_size));
    json::close(o, '}');
    return o;
}

// Runs on the spool's admin-read thread: reads the page's envelopes.
AdminResponse render_page(spool::Spool& spool, const spool::FileSpool::ListPage& page,
                          const std::vector<bool>& active, WallTime now) {
    std::string body = "{\"messages\":[";
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
        const auto& s = page.messages[i];
        auto m = spool.load(s.id);
        if (m.error == make_error_code(spool::SpoolErrc::not_found)) continue;  // removed meanwhile
        body += list_item(s, m ? &m.value : nullptr, active[i], now) + ",";
    }
    json::close(body, ']');
    body += ",\"total\":" + std::to_string(page.total);
    if (page.more && !page.messages.empty())
        body += ",\"next_after\":" + json::quote(page.messages.back().id);
    return {200, body + "}"};
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

void Relay::queue_list(const std::string& after, std::size_t limit, Respond respond) const {
    Core* core = impl_->core.get();
    if (!core) return respond(not_running());
    auto page = core->spool->list_page(after, limit);
    std::vector<bool> active;
    active.reserve(page.messages.size());
    for (const auto& m : page.messages) active.push_back(core->engine->scheduler().is_active(m.id));
    spool::FileSpool* spool = core->spool.get();
    spool->post_admin_read(
        [spool, page = std::move(page), active = std::move(active), now = core->clock.now(),
         respond = std::move(respond)] { respond(render_page(*spool, page, active, now)); });
}

namespace {

// Runs on the spool's admin-read thread: one message, fully.
AdminResponse show(spool::Spool& spool, const std::string& id, bool active, WallTime now) {
    auto loaded = spool.load(id);
    if (!loaded) return not_found("no such message");
    const spool::QueuedMessage& m = loaded.value;
    std::string o = "{";
    json::field(o, "id", json::quote(m.id));
    json::field(o, "arrival", json::time(m.envelope.arrival));
    json::field(o, "age_seconds", json::seconds(now - m.envelope.arrival));
    json::field(o, "state", json::quote(shown_state(active, m.state.state)));
    json::field(o, "attempts", std::to_string(m.state.attempts));
    json::field(o, "next_attempt", json::time(m.state.next_attempt));
    json::field(o, "last_error", json::quote(m.state.last_error));
    json::field(o, "envelope", envelope_object(m));
    json::field(o, "recipients", recipient_states(m));
    json::field(o, "history", history_array(m.state));
    json::close(o, '}');
    return {200, o};
}

}  // namespace

void Relay::queue_show(std::string_view id, Respond respond) const {
    Core* core = impl_->core.get();
    if (!core) return respond(not_running());
    std::string key(id);
    const bool active = core->engine->scheduler().is_active(key);
    spool::FileSpool* spool = core->spool.get();
    spool->post_admin_read([spool, key = std::move(key), active, now = core->clock.now(),
                            respond = std::move(respond)] { respond(show(*spool, key, active, now)); });
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
