// Table tests for classify() and deferral_reason(): real Gmail replies, as
// they arrive on the wire (multi-line, parsed by UpstreamReplyParser), at the
// stage where Gmail sends them; plus local failures.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/upstream_reply.hpp"
#include "protocol/upstream_result.hpp"

using namespace rp::protocol;

namespace {

UpstreamOutcome from_wire(Stage stage, const std::string& wire) {
    UpstreamReplyParser parser;
    parser.feed(wire);
    UpstreamReply reply;
    REQUIRE(parser.next(reply) == ReplyParseStatus::reply);
    return UpstreamOutcome{stage, reply.code, reply.enhanced, reply.text(), LocalFailure::none};
}

struct Row {
    Stage stage;
    std::string wire;  // "" for a local failure
    LocalFailure local;
    Verdict verdict;
    std::string reason;
};

const std::vector<Row> rows = {
    // delivered
    {Stage::body, "250 2.0.0 OK  1700000000 a1sm123456wra.1 - gsmtp\r\n", LocalFailure::none,
     Verdict::delivered, ""},
    {Stage::rcpt, "250 2.1.5 OK a1sm123456wra.1 - gsmtp\r\n", LocalFailure::none, Verdict::delivered, ""},
    // a 2xx anywhere else is out of sequence: never "delivered"
    {Stage::auth, "250 2.0.0 OK\r\n", LocalFailure::none, Verdict::defer_message, "temporary"},
    {Stage::data, "250 2.0.0 OK\r\n", LocalFailure::none, Verdict::defer_message, "temporary"},
    // account cooldown
    {Stage::auth, "454 4.7.0 Too many login attempts, please try again later. a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_cooldown, "rate_limited"},
    {Stage::auth,
     "454-4.7.0 Cannot authenticate due to a temporary system problem.\r\n454 4.7.0 Try again later.\r\n",
     LocalFailure::none, Verdict::account_cooldown, "rate_limited"},
    {Stage::mail, "421-4.7.0 Try again later, closing connection. (MAIL FROM)\r\n421 4.7.0  a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_cooldown, "temporary"},
    {Stage::rcpt, "421 4.7.0 Too many login attempts from this account, try again later\r\n",
     LocalFailure::none, Verdict::account_cooldown, "rate_limited"},
    {Stage::body, "421 4.7.0 Temporary rate limit exceeded for this user, try again later\r\n",
     LocalFailure::none, Verdict::account_cooldown, "rate_limited"},
    {Stage::body,
     "421-4.3.0 Temporary System Problem.  Try again later (10). a1sm - gsmtp\r\n421 4.3.0 x\r\n",
     LocalFailure::none, Verdict::account_cooldown, "temporary"},
    {Stage::mail,
     "530-5.7.0 Authentication Required. Learn more at\r\n530 5.7.0  "
     "https://support.google.com/mail/?p=WantAuthError "
     "a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_cooldown, "temporary"},
    {Stage::auth, "503 5.7.0 No identity changes permitted. a1sm - gsmtp\r\n", LocalFailure::none,
     Verdict::account_cooldown, "temporary"},
    {Stage::auth, "504 5.7.4 Unrecognized authentication type. a1sm - gsmtp\r\n", LocalFailure::none,
     Verdict::account_cooldown, "temporary"},
    // account disabled
    {Stage::auth,
     "535-5.7.8 Username and Password not accepted. For more information, go to\r\n535 5.7.8  "
     "https://support.google.com/mail/?p=BadCredentials a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_disabled, "auth"},
    {Stage::auth,
     "534-5.7.9 Application-specific password required. Learn more at\r\n534 5.7.9  "
     "https://support.google.com/mail/?p=InvalidSecondFactor a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_disabled, "auth"},
    {Stage::auth,
     "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=AKgnsbt>\r\n534-5.7.14 Please "
     "log in "
     "via your web browser and\r\n534-5.7.14 then try again.\r\n534 5.7.14  Learn more at "
     "https://support.google.com/mail/answer/78754 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_disabled, "auth"},
    // account exhausted: any stage, never a bounce
    {Stage::mail,
     "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n550-5.4.5 sending limits "
     "go "
     "to\r\n550 5.4.5  https://support.google.com/a/answer/166852 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_exhausted, "quota"},
    {Stage::rcpt, "550 5.4.5 Daily user sending limit exceeded. a1sm - gsmtp\r\n", LocalFailure::none,
     Verdict::account_exhausted, "quota"},
    {Stage::body, "550 5.4.5 Daily SMTP relay limit exceeded for customer. a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::account_exhausted, "quota"},
    {Stage::body, "550 Daily user sending quota exceeded.\r\n", LocalFailure::none,
     Verdict::account_exhausted, "quota"},
    // IP blamed: every account cools down
    {Stage::body,
     "421-4.7.28 [203.0.113.7      15] Our system has detected an unusual rate of\r\n421-4.7.28 unsolicited "
     "mail "
     "originating from your IP address. To protect our\r\n421 4.7.28 users from spam, mail sent from your IP "
     "address "
     "has been temporarily rate limited.\r\n",
     LocalFailure::none, Verdict::ip_cooldown, "rate_limited"},
    {Stage::rcpt, "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.\r\n",
     LocalFailure::none, Verdict::ip_cooldown, "temporary"},
    {Stage::greeting,
     "421-4.7.0 [203.0.113.7 15] Our system has detected an unusual rate of unsolicited mail originating "
     "from your IP "
     "address.\r\n421 4.7.0 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::ip_cooldown, "rate_limited"},
    {Stage::rcpt,
     "550-5.7.1 [203.0.113.7] The IP you're using to send mail is not authorized to\r\n550 5.7.1 send email "
     "directly to our servers. a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::ip_cooldown, "temporary"},
    {Stage::body,
     "421-4.7.0 This message is suspicious due to the very low reputation of the\r\n421 4.7.0 sending IP "
     "address.\r\n",
     LocalFailure::none, Verdict::ip_cooldown, "temporary"},
    // pre-auth refusals blame the upstream, not an account
    {Stage::ehlo, "421-4.7.0 Try again later, closing connection. (EHLO)\r\n421 4.7.0  a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::upstream_failure, "temporary"},
    {Stage::greeting, "554 5.7.0 Too many errors, closing connection\r\n", LocalFailure::none,
     Verdict::upstream_failure, "temporary"},
    {Stage::starttls, "454 4.7.0 TLS not available due to temporary reason\r\n", LocalFailure::none,
     Verdict::upstream_failure, "temporary"},
    // recipient-scoped
    {Stage::rcpt,
     "450-4.2.1 The user you are trying to contact is receiving mail too quickly.\r\n450 4.2.1 Please resend "
     "your "
     "message at a later time. a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::defer_recipient, "temporary"},
    {Stage::rcpt,
     "452-4.2.2 The recipient's inbox is out of storage space. Please direct the\r\n452 4.2.2 recipient to "
     "https://support.google.com/mail/?p=OverQuotaTemp a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::defer_recipient, "temporary"},
    {Stage::rcpt, "452 4.5.3 Your message has too many recipients.\r\n", LocalFailure::none,
     Verdict::defer_recipient, "temporary"},
    {Stage::rcpt,
     "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n550-5.1.1 "
     "double-checking the "
     "recipient's email address for typos or\r\n550 5.1.1 unnecessary spaces. a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::bounce_recipient, ""},
    {Stage::rcpt,
     "552-5.2.2 The email account that you tried to reach is over quota.\r\n552 5.2.2 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::bounce_recipient, ""},
    {Stage::rcpt, "553-5.1.2 We weren't able to find the recipient domain.\r\n553 5.1.2 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::bounce_recipient, ""},
    // message-scoped
    {Stage::body,
     "552-5.3.4 Your message exceeded Google's message size limits.\r\n552 5.3.4 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::bounce_message, ""},
    {Stage::mail, "552 5.3.4 Message size exceeds fixed limit\r\n", LocalFailure::none,
     Verdict::bounce_message, ""},
    {Stage::body,
     "550-5.7.1 [203.0.113.7 12] Our system has detected that this message is\r\n550-5.7.1 likely "
     "unsolicited mail. "
     "To reduce the amount of spam sent to Gmail,\r\n550 5.7.1 this message has been blocked.\r\n",
     LocalFailure::none, Verdict::bounce_message, ""},
    {Stage::body,
     "550-5.7.26 This message does not have authentication information or fails to\r\n550 5.7.26 pass "
     "authentication "
     "checks (SPF or DKIM).\r\n",
     LocalFailure::none, Verdict::bounce_message, ""},
    {Stage::body, "554 5.6.0 Message exceeded 50 hops, this may indicate a mail loop.\r\n",
     LocalFailure::none, Verdict::bounce_message, ""},
    {Stage::mail, "555 5.5.2 Syntax error. a1sm - gsmtp\r\n", LocalFailure::none, Verdict::bounce_message,
     ""},
    {Stage::body, "451-4.3.0 Mail server temporarily rejected message.\r\n451 4.3.0 a1sm - gsmtp\r\n",
     LocalFailure::none, Verdict::defer_message, "temporary"},
    {Stage::body,
     "450-4.2.1 The user you are trying to contact is receiving mail too quickly.\r\n450 4.2.1 x\r\n",
     LocalFailure::none, Verdict::defer_message, "temporary"},
    {Stage::data, "503 5.5.1 RCPT first. a1sm - gsmtp\r\n", LocalFailure::none, Verdict::defer_message,
     "temporary"},
    {Stage::rset, "502 5.5.1 Unrecognized command.\r\n", LocalFailure::none, Verdict::defer_message,
     "temporary"},
    // local failures
    {Stage::connect, "", LocalFailure::refused, Verdict::upstream_failure, "connection"},
    {Stage::connect, "", LocalFailure::dns, Verdict::upstream_failure, "connection"},
    {Stage::body, "", LocalFailure::timeout, Verdict::upstream_failure, "connection"},
    {Stage::rcpt, "", LocalFailure::reset, Verdict::upstream_failure, "connection"},
    {Stage::ehlo, "", LocalFailure::protocol, Verdict::upstream_failure, "connection"},
    {Stage::tls, "", LocalFailure::tls_handshake, Verdict::upstream_failure, "tls"},
    {Stage::tls, "", LocalFailure::tls_verify, Verdict::upstream_failure, "tls"},
    // XOAUTH2 token: refused (delegation not granted, key unusable) disables
    // the account; an unreachable token endpoint blames nobody
    {Stage::auth, "", LocalFailure::credentials_refused, Verdict::account_disabled, "auth"},
    {Stage::auth, "", LocalFailure::credentials_unavailable, Verdict::upstream_failure, "connection"},
};

}  // namespace

TEST_CASE("classify: real Gmail replies and local failures") {
    for (const auto& row : rows) {
        UpstreamOutcome o = row.wire.empty() ? UpstreamOutcome{row.stage, 0, "", "local", row.local}
                                             : from_wire(row.stage, row.wire);
        CAPTURE(to_string(row.stage));
        CAPTURE(row.wire);
        const Verdict v = classify(o);
        CHECK(to_string(v) == to_string(row.verdict));
        CHECK(deferral_reason(o, v) == row.reason);
    }
}

TEST_CASE("classify: 550 5.4.5 is never a bounce, at any stage") {
    for (Stage s : {Stage::mail, Stage::rcpt, Stage::data, Stage::body}) {
        UpstreamOutcome o{s, 550, "5.4.5", "Daily user sending limit exceeded.", LocalFailure::none};
        CHECK(classify(o) == Verdict::account_exhausted);
    }
}

TEST_CASE("classify: a local failure wins over any code") {
    UpstreamOutcome o{Stage::body, 250, "2.0.0", "", LocalFailure::timeout};
    CHECK(classify(o) == Verdict::upstream_failure);
}

TEST_CASE("to_string covers every stage and verdict") {
    CHECK(to_string(Stage::rcpt) == "rcpt");
    CHECK(to_string(Stage::body) == "body");
    CHECK(to_string(Verdict::account_exhausted) == "account_exhausted");
    CHECK(to_string(Verdict::ip_cooldown) == "ip_cooldown");
}
