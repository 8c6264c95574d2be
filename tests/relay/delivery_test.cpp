// Delivery engine behaviour with a scripted transport and the memory spool:
// every SPEC.md "Delivery" consequence of an upstream outcome (deliver,
// bounce + DSN, cool / disable / exhaust an account and reroute, back off,
// hold for an account, expire), the state-write failure rule and the metric
// counters. Time moves only through the ManualClock.
#include <doctest/doctest.h>

#include "delivery_test_util.hpp"

using namespace engine_test;
using spool::MessageState;
using spool::RecipientStatus;

namespace {

const std::string kA = "a@pool.example";
const std::string kB = "b@pool.example";

}  // namespace

TEST_CASE("happy path: delivered through one account, removed, counted") {
    Rig rig;
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example", "y@dest.example"});
    REQUIRE(rig.transport.calls.size() == 1);
    const auto& call = rig.transport.calls[0];
    CHECK(call.message_id == id);
    CHECK(call.recipients == std::vector<std::string>{"x@dest.example", "y@dest.example"});
    CHECK(call.mail_from == call.account.username);  // sender_rewrite: envelope
    CHECK(call.original_from == "app@client.example");
    CHECK(rig.spool.list().empty());
    CHECK(rig.metric("relaypool_deliveries_total", {"account=\"" + call.account.username + "\""}) == 1);
    CHECK(rig.metric("relaypool_queue_depth", {"state=\"ready\""}) == 0);
}

TEST_CASE("sender_rewrite none keeps the client's sender; the null sender stays null") {
    Rig rig;
    rig.options.sender_rewrite = config::SenderRewrite::none;
    rig.start();
    rig.submit("app@client.example", {"x@dest.example"});
    REQUIRE(rig.transport.calls.size() == 1);
    CHECK(rig.transport.calls[0].mail_from == "app@client.example");
    config::Account acc = account(kA);
    CHECK(relay::upstream_mail_from(config::SenderRewrite::envelope, "", acc) == "");
    CHECK(relay::upstream_mail_from(config::SenderRewrite::envelope_header, "s@x", acc) == kA);
}

TEST_CASE("partial: one 550 5.1.1 bounces with a DSN, the other recipient is delivered") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        relay::DeliveryReport rep;
        for (const auto& a : r.recipients)
            rep.recipients.push_back({a, a == "gone@dest.example"
                                             ? reply(Stage::rcpt, 550, "5.1.1", "no such user")
                                             : reply(Stage::body, 250, "2.0.0", "OK")});
        return rep;
    };
    rig.start();
    rig.transport.hold(true);  // keep the DSN in the queue to look at it
    const auto id = rig.submit("app@client.example", {"ok@dest.example", "gone@dest.example"},
                               "Subject: s\r\n\r\nb\r\n", "", "HDRS", "env-42");
    rig.transport.release();
    rig.run();
    REQUIRE(rig.transport.calls.size() >= 1);
    // The original is finished and gone; the DSN was queued from <> to the sender.
    CHECK_FALSE(rig.spool.summary(id));
    REQUIRE(rig.transport.calls.size() == 2);
    const auto& dsn_call = rig.transport.calls[1];
    CHECK(dsn_call.mail_from == "");  // a DSN goes out from the null sender
    CHECK(dsn_call.recipients == std::vector<std::string>{"app@client.example"});
    CHECK(rig.metric("relaypool_bounces_total", {"reason=\"rejected\""}) == 1);
    CHECK(rig.metric("relaypool_deliveries_total", {}) >= 1);
}

TEST_CASE("the DSN names the failed recipient, its status and ENVID") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        if (r.mail_from.empty()) {
            relay::DeliveryReport rep;  // keep the DSN queued: its delivery defers
            rep.session_failure = local(LocalFailure::refused, "connection refused");
            return rep;
        }
        return all(r, reply(Stage::rcpt, 550, "5.1.1", "no such user"));
    };
    rig.start();
    const auto id =
        rig.submit("app@client.example", {"gone@dest.example"}, "Subject: s\r\n\r\nb\r\n", "", "", "env-42");
    CHECK_FALSE(rig.spool.summary(id));
    const auto ids = rig.spool.list();
    REQUIRE(ids.size() == 1);
    const auto dsn = rig.spool.load(ids[0]).value;
    CHECK(dsn.envelope.spec.mail_from == "");
    const std::string text = rig.body_of(ids[0]);
    CHECK(text.find("Final-Recipient: rfc822; gone@dest.example") != std::string::npos);
    CHECK(text.find("Status: 5.1.1") != std::string::npos);
    CHECK(text.find("Original-Envelope-Id: env-42") != std::string::npos);
}

TEST_CASE("NOTIFY=NEVER: the recipient bounces without a DSN") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        return all(r, reply(Stage::rcpt, 550, "5.1.1", "no such user"));
    };
    rig.start();
    rig.submit("app@client.example", {"gone@dest.example"}, "Subject: s\r\n\r\nb\r\n", "NEVER");
    CHECK(rig.dsns.queued.empty());
    CHECK(rig.spool.list().empty());
    CHECK(rig.transport.calls.size() == 1);
    CHECK(rig.metric("relaypool_bounces_total", {"reason=\"rejected\""}) == 1);
}

TEST_CASE("a bounce of a bounce is suppressed") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        return all(r, reply(Stage::rcpt, 550, "5.1.1", "no such user"));
    };
    rig.start();
    rig.submit("", {"gone@dest.example"});
    CHECK(rig.dsns.queued.empty());
    CHECK(rig.spool.list().empty());         // bounced and removed ...
    CHECK(rig.transport.calls.size() == 1);  // ... and no DSN was queued or sent
}

TEST_CASE("552 5.3.4 after the body bounces the whole message") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        if (r.mail_from.empty()) return delivered(r);
        return session_failed(reply(Stage::body, 552, "5.3.4", "message too big"));
    };
    rig.start();
    rig.submit("app@client.example", {"x@dest.example", "y@dest.example"});
    CHECK(rig.spool.list().empty());
    CHECK(rig.metric("relaypool_bounces_total", {"reason=\"rejected\""}) == 2);
    REQUIRE(rig.transport.calls.size() == 2);
    CHECK(rig.transport.calls[1].mail_from == "");
}

// Account-blaming outcomes: the account gets its consequence, the message is
// rerouted at once (no clock movement) through the other account, no bounce.
struct BlameRow {
    const char* name;
    UpstreamOutcome outcome;
    bool at_rcpt;
    pool::State state;
    const char* reason;
};

TEST_CASE("account-blaming refusals reroute through another account") {
    const BlameRow rows[] = {
        {"454 4.7.0 at AUTH",
         reply(Stage::auth, 454, "4.7.0", "Too many login attempts, please try again later"), false,
         pool::State::cooling_down, "rate_limited"},
        {"421 4.7.0 after MAIL", reply(Stage::mail, 421, "4.7.0", "Try again later, closing connection"),
         false, pool::State::cooling_down, "temporary"},
        {"535 5.7.8 at AUTH", reply(Stage::auth, 535, "5.7.8", "Username and Password not accepted"), false,
         pool::State::disabled, "auth"},
        {"534 5.7.9 at AUTH", reply(Stage::auth, 534, "5.7.9", "Application-specific password required"),
         false, pool::State::disabled, "auth"},
        {"550 5.4.5 at RCPT", reply(Stage::rcpt, 550, "5.4.5", "Daily user sending limit exceeded"), true,
         pool::State::exhausted, "quota"},
        {"550 5.4.5 after the body", reply(Stage::body, 550, "5.4.5", "Daily user sending limit exceeded"),
         false, pool::State::exhausted, "quota"},
        // sender_rewrite (envelope, the Rig's default): MAIL FROM is the
        // account's own address, so a 5xx to it blames the account.
        {"550 5.7.1 to MAIL FROM",
         reply(Stage::mail, 550, "5.7.1", "Sender address rejected: not owned by user"), false,
         pool::State::disabled, "auth"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        Rig rig;
        std::string first;
        rig.transport.script = [&](const relay::DeliveryRequest& r) {
            if (first.empty()) first = r.account.username;
            if (r.account.username != first) return delivered(r);
            return row.at_rcpt ? all(r, row.outcome) : session_failed(row.outcome);
        };
        rig.start();
        rig.submit("app@client.example", {"x@dest.example"});
        REQUIRE(rig.transport.calls.size() == 2);
        CHECK(rig.transport.calls[0].account.username == first);
        CHECK(rig.transport.calls[1].account.username != first);
        CHECK(rig.spool.list().empty());
        CHECK(rig.status_of(first).state == row.state);
        CHECK(rig.metric("relaypool_deferrals_total",
                         {"account=\"" + first + "\"", std::string("reason=\"") + row.reason + "\""}) == 1);
        CHECK(rig.metric("relaypool_bounces_total") == 0);
    }
}

TEST_CASE("421 blaming the IP cools every account; mail waits, then goes") {
    Rig rig;
    int n = 0;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        if (n++ == 0)
            return session_failed(
                reply(Stage::mail, 421, "4.7.0",
                      "Our system has detected an unusual rate of unsolicited mail originating "
                      "from your IP address"));
        return delivered(r);
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.size() == 1);
    CHECK(rig.status_of(kA).state == pool::State::cooling_down);
    CHECK(rig.status_of(kB).state == pool::State::cooling_down);
    auto m = rig.spool.load(id);
    REQUIRE(m);
    CHECK(m.value.state.state == MessageState::deferred);
    CHECK(rig.metric("relaypool_deferrals_total", {"account=\"\"", "reason=\"no_account\""}) == 1);
    rig.advance(std::chrono::minutes(15));  // cooldown_temporary
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("no usable account: deferred (no_account) and woken as soon as one is usable") {
    Rig rig;
    rig.start();
    rig.engine->pause(kA);
    rig.engine->pause(kB);
    rig.run();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.empty());
    auto m = rig.spool.load(id);
    REQUIRE(m);
    CHECK(m.value.state.state == MessageState::deferred);
    CHECK(m.value.state.last_error == "no usable account");
    CHECK(rig.metric("relaypool_deferrals_total", {"account=\"\"", "reason=\"no_account\""}) == 1);
    CHECK(rig.metric("relaypool_queue_depth", {"state=\"deferred\""}) == 1);
    // No clock movement: the resume alone wakes the held message.
    rig.engine->resume(kB);
    rig.run();
    REQUIRE(rig.transport.calls.size() == 1);
    CHECK(rig.transport.calls[0].account.username == kB);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("a cooled-down single account: held, then woken when the cooldown ends, not at backoff time") {
    Rig rig({account(kA)});
    rig.options.retry_initial = std::chrono::hours(1);
    int n = 0;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        if (n++ == 0) return session_failed(reply(Stage::auth, 454, "4.7.0", "Too many login attempts"));
        return delivered(r);
    };
    rig.start();
    rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.size() == 1);
    rig.advance(std::chrono::minutes(14));
    CHECK(rig.transport.calls.size() == 1);
    rig.advance(std::chrono::minutes(1));  // 15m cooldown over, long before the 1h backoff
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("connection failure: backoff from retry_initial, no account blamed") {
    Rig rig;
    int n = 0;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        if (n++ < 2) return session_failed(local(LocalFailure::refused, "connection refused"));
        return delivered(r);
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    REQUIRE(rig.transport.calls.size() == 1);
    const auto first = rig.transport.calls[0].account.username;
    CHECK(rig.status_of(first).state == pool::State::active);
    CHECK(rig.metric("relaypool_deferrals_total", {"account=\"" + first + "\"", "reason=\"connection\""}) ==
          1);
    auto m = rig.spool.load(id).value;
    CHECK(m.state.state == MessageState::deferred);
    CHECK(m.state.next_attempt == rig.clock.now() + std::chrono::minutes(1));
    CHECK(m.state.recipients[0].status == RecipientStatus::pending);

    rig.advance(std::chrono::seconds(59));
    CHECK(rig.transport.calls.size() == 1);  // not before retry_initial
    rig.advance(std::chrono::seconds(1));
    CHECK(rig.transport.calls.size() == 2);
    m = rig.spool.load(id).value;
    CHECK(m.state.next_attempt == rig.clock.now() + std::chrono::minutes(2));  // doubled
    rig.advance(std::chrono::minutes(2));
    CHECK(rig.transport.calls.size() == 3);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("450 4.2.1 defers only that recipient; the others are delivered") {
    Rig rig;
    int n = 0;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        relay::DeliveryReport rep;
        for (const auto& a : r.recipients)
            rep.recipients.push_back({a, (a == "slow@dest.example" && n == 0)
                                             ? reply(Stage::rcpt, 450, "4.2.1", "receiving mail too quickly")
                                             : reply(Stage::body, 250, "2.0.0", "OK")});
        ++n;
        return rep;
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"ok@dest.example", "slow@dest.example"});
    auto m = rig.spool.load(id).value;
    CHECK(m.state.recipients[0].status == RecipientStatus::delivered);
    CHECK(m.state.recipients[1].status == RecipientStatus::pending);
    rig.advance(std::chrono::minutes(1));
    REQUIRE(rig.transport.calls.size() == 2);
    CHECK(rig.transport.calls[1].recipients == std::vector<std::string>{"slow@dest.example"});
    CHECK(rig.spool.list().empty());
}

TEST_CASE("queue.max_age: the message bounces with a DSN (expired)") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest& r) {
        if (r.mail_from.empty()) return delivered(r);
        return session_failed(local(LocalFailure::timeout, "connect timed out"));
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    for (int i = 0; i < 30 && rig.spool.summary(id); ++i) rig.advance(std::chrono::hours(1));
    CHECK_FALSE(rig.spool.summary(id));
    // >= 1: the DSN's own arrival is real time (MemorySpool), so under the
    // manual clock it expires at once too (and, from <>, bounces silently).
    CHECK(rig.metric("relaypool_bounces_total", {"reason=\"expired\""}) >= 1);
    REQUIRE(rig.dsns.queued.size() == 1);
    const auto& dsn = rig.dsns.queued[0];
    CHECK(dsn.envelope.mail_from == "");
    REQUIRE(dsn.envelope.recipients.size() == 1);
    CHECK(dsn.envelope.recipients[0].address == "app@client.example");
    CHECK(dsn.text.find("Action: failed") != std::string::npos);
    CHECK(dsn.text.find("Status: 4.4.7") != std::string::npos);
    CHECK(dsn.text.find("Final-Recipient: rfc822; x@dest.example") != std::string::npos);
}

TEST_CASE("expiry of a held message (no account ever usable) still bounces") {
    Rig rig;
    rig.start();
    rig.engine->pause(kA);
    rig.engine->pause(kB);
    rig.run();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    rig.advance(std::chrono::hours(23));
    CHECK(rig.spool.summary(id));
    rig.advance(std::chrono::hours(2));  // past queue.max_age (24h) after arrival
    CHECK_FALSE(rig.spool.summary(id));
    CHECK(rig.metric("relaypool_bounces_total", {"reason=\"expired\""}) >= 1);
    REQUIRE(rig.dsns.queued.size() == 1);  // exactly one DSN: never one for the DSN itself
    CHECK(rig.dsns.queued[0].envelope.mail_from == "");
    CHECK(rig.dsns.queued[0].envelope.recipients[0].address == "app@client.example");
}

TEST_CASE("without sender_rewrite a 5xx to MAIL FROM is about the message: it bounces") {
    Rig rig;
    rig.options.sender_rewrite = config::SenderRewrite::none;
    rig.transport.script = [&](const relay::DeliveryRequest&) {
        return session_failed(reply(Stage::mail, 550, "5.7.1", "Sender address rejected"));
    };
    rig.start();
    rig.submit("app@client.example", {"x@dest.example"});
    REQUIRE(rig.transport.calls.size() >= 1);  // then the DSN (refused too: a bounce of a bounce is dropped)
    CHECK(rig.status_of(rig.transport.calls[0].account.username).state == pool::State::active);
    CHECK(rig.metric("relaypool_bounces_total") >= 1);
    CHECK(rig.dsns.queued.size() == 1);
}

TEST_CASE("sender_rewrite: a 5xx to MAIL FROM:<> (never rewritten) blames no account") {
    // An upstream that refuses the null reverse path: the DSN of a bounced
    // message must not disable the account it tried, then the next, ...
    Rig rig;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        if (r.mail_from.empty())
            return session_failed(reply(Stage::mail, 553, "5.1.7", "Null sender refused"));
        return all(r, reply(Stage::rcpt, 550, "5.1.1", "No such user"));
    };
    rig.start();
    rig.submit("app@client.example", {"x@dest.example"});
    REQUIRE(rig.dsns.queued.size() == 1);  // the bounce of the message; none for the DSN itself
    rig.advance(std::chrono::seconds(1));
    for (const auto& call : rig.transport.calls)
        CHECK(rig.status_of(call.account.username).state == pool::State::active);
    CHECK(rig.spool.list().empty());  // the refused DSN is dropped (a bounce of a bounce)
}

TEST_CASE("no reply after the end of the message: the send counts against the account, the message retries") {
    for (bool end_unanswered : {false, true}) {
        CAPTURE(end_unanswered);
        Rig rig;
        rig.transport.script = [&](const relay::DeliveryRequest&) {
            auto report = session_failed(protocol::UpstreamOutcome{
                Stage::body, 0, "", "no reply to the end of data", protocol::LocalFailure::timeout});
            report.end_unanswered = end_unanswered;
            return report;
        };
        rig.start();
        const auto id = rig.submit("app@client.example", {"x@dest.example", "y@dest.example"});
        REQUIRE(rig.transport.calls.size() == 1);
        CHECK(rig.spool.summary(id));  // kept for a retry: nothing reads as delivered
        const auto& account = rig.transport.calls[0].account.username;
        CHECK(rig.status_of(account).day.messages == (end_unanswered ? 1 : 0));
    }
}

TEST_CASE("state write failure on a deferral: the message keeps its last durable state and retries") {
    Rig rig;
    int calls = 0;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        auto report = delivered(r);
        if (++calls == 1) report.recipients[0].outcome = {protocol::Stage::body, 451, "4.3.0", "try later"};
        return report;
    };
    rig.start();
    rig.spool.fail_state_writes(std::make_error_code(std::errc::no_space_on_device));
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.size() == 1);
    auto m = rig.spool.load(id);
    REQUIRE(m);
    CHECK(m.value.state.state == MessageState::ready);
    CHECK(m.value.state.attempts == 0);
    CHECK(rig.spool.stats().state_write_errors >= 1);
    // The disk recovers: the message goes on its next attempt.
    rig.spool.fail_state_writes({});
    rig.advance(std::chrono::minutes(1));
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("state write failure after a partial delivery: the accepted recipient is never sent again") {
    Rig rig;
    rig.transport.script = [&](const relay::DeliveryRequest& r) {
        rig.spool.fail_state_writes(std::make_error_code(std::errc::no_space_on_device));
        auto report = delivered(r);
        if (r.recipients.size() == 2)
            report.recipients[1].outcome = {protocol::Stage::rcpt, 450, "4.2.1",
                                            "receiving mail too quickly"};
        else
            report.recipients[0].outcome = {protocol::Stage::rcpt, 450, "4.2.1",
                                            "receiving mail too quickly"};
        return report;
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example", "y@dest.example"});
    CHECK(rig.transport.calls.size() == 1);
    auto m = rig.spool.load(id);
    REQUIRE(m);  // not removed; the disk still holds the state before the attempt
    CHECK(m.value.state.recipients[0].status == RecipientStatus::pending);
    // Retries while the disk stays full: only the deferred recipient goes again.
    for (int i = 0; i < 5; ++i) rig.advance(std::chrono::hours(1));
    REQUIRE(rig.transport.calls.size() >= 4);
    for (std::size_t k = 1; k < rig.transport.calls.size(); ++k)
        CHECK(rig.transport.calls[k].recipients == std::vector<std::string>{"y@dest.example"});
    // The disk recovers: the state in memory is written at the next attempt.
    rig.spool.fail_state_writes({});
    rig.transport.script = delivered;
    rig.advance(std::chrono::hours(1));
    CHECK(rig.transport.calls.back().recipients == std::vector<std::string>{"y@dest.example"});
    CHECK(rig.spool.list().empty());
}

TEST_CASE("a recipient budget smaller than the message splits it across accounts") {
    Rig rig({account(kA, 2000, 1), account(kB, 2000, 2000)});
    rig.start();
    rig.submit("app@client.example", {"x@dest.example", "y@dest.example"});
    REQUIRE(rig.transport.calls.size() == 2);
    CHECK(rig.transport.calls[0].account.username == kA);
    CHECK(rig.transport.calls[0].recipients.size() == 1);
    CHECK(rig.transport.calls[1].account.username == kB);
    CHECK(rig.transport.calls[1].recipients.size() == 1);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("daily_limit is never exceeded; the rest waits (no_account)") {
    Rig rig({account(kA, 2)});
    rig.options.max_age = std::chrono::hours(48);  // the held message must outlive the window
    rig.start();
    for (int i = 0; i < 3; ++i) rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.spool.list().size() == 1);
    CHECK(rig.status_of(kA).state == pool::State::exhausted);
    CHECK(rig.status_of(kA).day.messages == 2);
    rig.advance(std::chrono::hours(24));
    CHECK(rig.transport.calls.size() == 2);  // a send counts for at least 24 h
    rig.advance(std::chrono::minutes(1));    // and at most one minute bucket longer
    CHECK(rig.transport.calls.size() == 3);
}

TEST_CASE("the active window bounds deliveries in flight, however long the backlog") {
    Rig rig({account(kA)}, 2);  // window = 2 connections x 1 account
    rig.start();
    rig.transport.hold(true);
    for (int i = 0; i < 20; ++i) rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.in_flight == 2);
    CHECK(rig.engine->scheduler().active() == 2);
    CHECK(rig.metric("relaypool_queue_depth", {"state=\"active\""}) == 2);
    CHECK(rig.metric("relaypool_queue_depth", {"state=\"ready\""}) == 18);
    rig.transport.release();
    rig.run();
    CHECK(rig.spool.list().empty());
    CHECK(rig.transport.max_in_flight == 2);
    CHECK(rig.transport.calls.size() == 20);
}

TEST_CASE("recovery: every queued message is picked up again, interrupted ones included") {
    Rig rig;
    // Queue two messages before the engine exists; mark one as mid-delivery.
    spool::EnvelopeSpec env;
    env.mail_from = "app@client.example";
    env.recipients.push_back({"x@dest.example", "", ""});
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        auto w = rig.spool.begin(env);
        w->append("Subject: s\r\n\r\nb\r\n");
        w->commit([&](std::error_code, std::string id) { ids.push_back(id); });
    }
    auto st = rig.spool.load(ids[0]).value.state;
    st.state = MessageState::active;
    REQUIRE_FALSE(rig.spool.update_state(ids[0], st));
    st = rig.spool.load(ids[1]).value.state;
    st.state = MessageState::deferred;
    st.next_attempt = rig.clock.now() + std::chrono::hours(1);
    REQUIRE_FALSE(rig.spool.update_state(ids[1], st));
    rig.start();
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.spool.list().empty());
}

TEST_CASE("admin: retry makes a deferred message due now; delete drops it") {
    Rig rig;
    rig.transport.script = [](const relay::DeliveryRequest&) {
        return session_failed(local(LocalFailure::refused, "refused"));
    };
    rig.start();
    const auto id = rig.submit("app@client.example", {"x@dest.example"});
    CHECK(rig.transport.calls.size() == 1);
    CHECK(rig.engine->retry(id));
    rig.run();
    CHECK(rig.transport.calls.size() == 2);
    CHECK(rig.engine->retry_all() == 1);
    rig.run();
    CHECK(rig.transport.calls.size() == 3);
    CHECK(rig.engine->erase(id) == relay::Engine::EraseResult::erased);
    CHECK(rig.engine->erase(id) == relay::Engine::EraseResult::not_found);
    CHECK(rig.spool.list().empty());
    CHECK_FALSE(rig.engine->retry(id));
}

TEST_CASE("stop: waits for running deliveries, closes the transport, calls back once") {
    Rig rig({account(kA)});
    rig.start();
    rig.transport.hold(true);
    rig.submit("app@client.example", {"x@dest.example"});
    int stopped = 0;
    rig.engine->stop([&] { ++stopped; });
    rig.run();
    CHECK(rig.transport.shut);
    CHECK(stopped == 0);  // a delivery is still running
    rig.transport.release();
    rig.run();
    CHECK(stopped == 1);
    CHECK(rig.spool.list().empty());
}
