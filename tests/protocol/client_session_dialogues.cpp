// Scripted upstream dialogues against ClientSession (see client_dialogue.hpp
// for the script language). Each test is one conversation a Gmail-like
// upstream could have with relaypool, byte for byte.
#include <doctest/doctest.h>

#include <algorithm>

#include "client_dialogue.hpp"

using namespace rp::protocol;
using rp::test::Dialogue;

namespace {

const char* const user = "reminders01@agency.example";

ClientConfig config(ClientTls tls = ClientTls::starttls, AuthMechanism mech = AuthMechanism::automatic,
                    std::string secret = "app-password") {
    ClientConfig c;
    c.ehlo_hostname = "relay.example.com";
    c.tls = tls;
    c.credentials = ClientCredentials{mech, user, std::move(secret)};
    return c;
}

OutgoingMessage message(std::vector<std::string> rcpts, std::uint64_t size = 31) {
    OutgoingMessage m;
    m.mail_from = user;
    m.recipients = std::move(rcpts);
    m.size = size;
    m.body_8bitmime = true;
    return m;
}

const std::string body = "Subject: hi\r\n\r\n.dot line\r\nend\r\n";  // 31 bytes

// Greeting, EHLO, STARTTLS, EHLO again (no CHUNKING: DATA is used), AUTH PLAIN.
const std::string plain_login = R"(
    S: 220 smtp.gmail.com ESMTP a1sm - gsmtp
    C: EHLO relay.example.com
    S: 250-smtp.gmail.com at your service, [203.0.113.7]
    S: 250-SIZE 35882577
    S: 250-8BITMIME
    S: 250-STARTTLS
    S: 250-ENHANCEDSTATUSCODES
    S: 250-PIPELINING
    S: 250 SMTPUTF8
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    TLS
    C: EHLO relay.example.com
    S: 250-smtp.gmail.com at your service, [203.0.113.7]
    S: 250-SIZE 35882577
    S: 250-8BITMIME
    S: 250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH
    S: 250-ENHANCEDSTATUSCODES
    S: 250-PIPELINING
    S: 250 SMTPUTF8
    C: AUTH PLAIN AHJlbWluZGVyczAxQGFnZW5jeS5leGFtcGxlAGFwcC1wYXNzd29yZA==
    S: 235 2.7.0 Accepted
)";

const std::string pipelined_3 = R"(
    BEGIN 0
    C: MAIL FROM:<reminders01@agency.example> SIZE=31 BODY=8BITMIME
    C: RCPT TO:<a@example.org>
    C: RCPT TO:<b@example.org>
    C: RCPT TO:<c@example.org>
    C: DATA
)";

const std::string stuffed_body = R"(
    C: Subject: hi
    C:
    C: ..dot line
    C: end
    C: .
)";

std::size_t count_prefix(const std::vector<std::string>& writes, const std::string& prefix) {
    return static_cast<std::size_t>(std::count_if(writes.begin(), writes.end(), [&](const std::string& w) {
        std::size_t n = 0;
        for (std::size_t p = w.find(prefix); p != std::string::npos; p = w.find(prefix, p + 1))
            if (p == 0 || w[p - 1] == '\n') ++n;
        return n > 0;
    }));
}

void check_outcome(const UpstreamOutcome& o, Stage stage, int code, const std::string& enhanced = "") {
    CHECK(to_string(o.stage) == to_string(stage));
    CHECK(o.code == code);
    if (!enhanced.empty()) CHECK(o.enhanced == enhanced);
}

}  // namespace

TEST_CASE("dialogue: STARTTLS + AUTH PLAIN + 3 pipelined recipients + body, then QUIT") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.body = body;
    d.run(plain_login + R"(IDLE)" + pipelined_3 + R"(
        S: 250 2.1.0 OK a1sm - gsmtp
        S: 250 2.1.5 OK a1sm - gsmtp
        S: 250 2.1.5 OK a1sm - gsmtp
        S: 250 2.1.5 OK a1sm - gsmtp
        S: 354  Go ahead a1sm - gsmtp
        BODY
    )" + stuffed_body +
          R"(
        S: 250 2.0.0 OK  1700000000 a1sm - gsmtp
        C: RSET
        S: 250 2.1.5 Flushed a1sm - gsmtp
        IDLE
        QUIT
        C: QUIT
        S: 221 2.0.0 closing connection a1sm - gsmtp
        DONE
    )");
    REQUIRE(d.results.size() == 1);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(d.results[0].delivered(i));
        check_outcome(d.results[0].recipients[i], Stage::body, 250, "2.0.0");
    }
    CHECK(d.session.secure());
    CHECK(d.session.authenticated());
    CHECK(d.session.capabilities().offers_auth("XOAUTH2"));
    // The AUTH line is flagged sensitive, nothing else is.
    for (std::size_t i = 0; i < d.writes.size(); ++i)
        CHECK(d.sensitive[i] == (d.writes[i].rfind("AUTH", 0) == 0));
}

TEST_CASE("dialogue: AUTH LOGIN when PLAIN is not offered, no pipelining") {
    Dialogue d(config(ClientTls::none));
    d.messages = {message({"a@example.org", "b@example.org"})};
    d.body = body;
    d.run(R"(
        S: 220 mx.example ESMTP
        C: EHLO relay.example.com
        S: 250-mx.example
        S: 250-AUTH LOGIN CRAM-MD5
        S: 250 STARTTLS
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: cmVtaW5kZXJzMDFAYWdlbmN5LmV4YW1wbGU=
        S: 334 UGFzc3dvcmQ6
        C: YXBwLXBhc3N3b3Jk
        S: 235 2.7.0 Authentication successful
        BEGIN 0
        C: MAIL FROM:<reminders01@agency.example>
        S: 250 OK
        C: RCPT TO:<a@example.org>
        S: 250 OK
        C: RCPT TO:<b@example.org>
        S: 250 OK
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        BODY
    )" + stuffed_body +
          R"(
        S: 250 OK queued as 12345
        C: RSET
        S: 250 OK
        IDLE
    )");
    REQUIRE(d.results.size() == 1);
    CHECK(d.results[0].delivered(0));
    CHECK(d.results[0].delivered(1));
    CHECK_FALSE(d.session.secure());
    REQUIRE(d.writes.size() >= 4);
    CHECK(d.sensitive[1] == false);  // "AUTH LOGIN" itself carries nothing
    CHECK(d.sensitive[2] == true);
    CHECK(d.sensitive[3] == true);
}

TEST_CASE("dialogue: XOAUTH2 success, implicit TLS (the session asks for the handshake first)") {
    Dialogue d(config(ClientTls::implicit, AuthMechanism::xoauth2, "ya29.token"));
    d.run(R"(
        TLS
        S: 220 smtp.gmail.com ESMTP a1sm - gsmtp
        C: EHLO relay.example.com
        S: 250-smtp.gmail.com at your service
        S: 250 AUTH LOGIN PLAIN XOAUTH2
        C: AUTH XOAUTH2 dXNlcj1yZW1pbmRlcnMwMUBhZ2VuY3kuZXhhbXBsZQFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE=
        S: 235 2.7.0 Accepted
        IDLE
    )");
    CHECK(d.session.secure());
    CHECK(d.session.authenticated());
}

TEST_CASE("dialogue: XOAUTH2 refused: empty answer to the 334, 535, QUIT, no other mechanism") {
    Dialogue d(config(ClientTls::implicit, AuthMechanism::xoauth2, "ya29.token"));
    d.run(R"(
        TLS
        S: 220 smtp.gmail.com ESMTP
        C: EHLO relay.example.com
        S: 250-smtp.gmail.com
        S: 250 AUTH LOGIN PLAIN XOAUTH2
        C: AUTH XOAUTH2 dXNlcj1yZW1pbmRlcnMwMUBhZ2VuY3kuZXhhbXBsZQFhdXRoPUJlYXJlciB5YTI5LnRva2VuAQE=
        S: 334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
        C:
        S: 535-5.7.8 Username and Password not accepted. For more information, go to
        S: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1sm - gsmtp
        C: QUIT
        FAILED auth 535
    )");
    REQUIRE(d.failure);
    CHECK(d.failure->enhanced == "5.7.8");
    CHECK(d.failure->text.find("(xoauth2: {\"status\":\"400\"") != std::string::npos);
    CHECK(classify(*d.failure) == Verdict::account_disabled);
    CHECK(count_prefix(d.writes, "AUTH") == 1);
}

TEST_CASE("dialogue: 535 to AUTH PLAIN: QUIT, Failed, never a second mechanism") {
    Dialogue d(config());
    std::string script = plain_login;
    script.replace(script.find("S: 235 2.7.0 Accepted"), 21,
                   "S: 535-5.7.8 Username and Password not accepted.\n S: 535 5.7.8 a1sm - gsmtp\n C: QUIT\n "
                   "FAILED auth 535");
    d.run(script);
    CHECK(count_prefix(d.writes, "AUTH") == 1);
    CHECK_FALSE(d.session.reusable());
    CHECK_FALSE(d.session.begin_message(message({"a@example.org"})));
}

TEST_CASE("dialogue: partial RCPT failure: the others are delivered, the failed one keeps its reply") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.body = body;
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 250 2.1.5 OK
        S: 550-5.1.1 The email account that you tried to reach does not exist. Please try
        S: 550 5.1.1 double-checking the recipient's email address. a1sm - gsmtp
        S: 452 4.2.2 The recipient's inbox is out of storage space.
        S: 354  Go ahead
        BODY
    )" + stuffed_body +
          R"(
        S: 250 2.0.0 OK
        C: RSET
        S: 250 2.1.5 Flushed
        IDLE
    )");
    REQUIRE(d.results.size() == 1);
    const auto& r = d.results[0].recipients;
    CHECK(d.results[0].delivered(0));
    check_outcome(r[1], Stage::rcpt, 550, "5.1.1");
    CHECK(classify(r[1]) == Verdict::bounce_recipient);
    check_outcome(r[2], Stage::rcpt, 452, "4.2.2");
    CHECK(classify(r[2]) == Verdict::defer_recipient);
}

TEST_CASE("dialogue: every RCPT fails (pipelined): DATA's 503 is consumed, no body, RSET") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 550 5.1.1 no such user a
        S: 550 5.1.1 no such user b
        S: 550 5.1.1 no such user c
        S: 503 5.5.1 RCPT first.
        C: RSET
        S: 250 2.1.5 Flushed
        IDLE
    )");
    REQUIRE(d.results.size() == 1);
    for (const auto& o : d.results[0].recipients) check_outcome(o, Stage::rcpt, 550, "5.1.1");
}

TEST_CASE("dialogue: every RCPT fails but DATA says 354: an empty message ends it, then RSET") {
    Dialogue d(config());
    d.messages = {message({"a@example.org"})};
    std::string begin1 = R"(
        BEGIN 0
        C: MAIL FROM:<reminders01@agency.example> SIZE=31 BODY=8BITMIME
        C: RCPT TO:<a@example.org>
        C: DATA
    )";
    d.run(plain_login + begin1 + R"(
        S: 250 2.1.0 OK
        S: 550 5.1.1 no such user
        S: 354 go ahead
        C: .
        S: 554 5.5.1 No valid recipients
        C: RSET
        S: 250 2.0.0 OK
        IDLE
    )");
    REQUIRE(d.results.size() == 1);
    check_outcome(d.results[0].recipients[0], Stage::rcpt, 550);
}

TEST_CASE("dialogue: 550 5.4.5 at MAIL applies to every recipient; the session stays usable") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.run(plain_login + pipelined_3 + R"(
        S: 550-5.4.5 Daily user sending limit exceeded. For more information on Gmail
        S: 550-5.4.5 sending limits go to
        S: 550 5.4.5  https://support.google.com/a/answer/166852 a1sm - gsmtp
        S: 503 5.5.1 MAIL first.
        S: 503 5.5.1 MAIL first.
        S: 503 5.5.1 MAIL first.
        S: 503 5.5.1 MAIL first.
        C: RSET
        S: 250 2.1.5 Flushed
        IDLE
    )");
    REQUIRE(d.results.size() == 1);
    for (const auto& o : d.results[0].recipients) {
        check_outcome(o, Stage::mail, 550, "5.4.5");
        CHECK(classify(o) == Verdict::account_exhausted);
    }
    CHECK(d.session.reusable());
}

TEST_CASE("dialogue: 550 5.4.5 at RCPT for every recipient") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 550 5.4.5 Daily user sending limit exceeded.
        S: 550 5.4.5 Daily user sending limit exceeded.
        S: 550 5.4.5 Daily user sending limit exceeded.
        S: 554 5.5.1 No valid recipients
        C: RSET
        S: 250 2.1.5 Flushed
        IDLE
    )");
    for (const auto& o : d.results.at(0).recipients) {
        check_outcome(o, Stage::rcpt, 550, "5.4.5");
        CHECK(classify(o) == Verdict::account_exhausted);
    }
}

TEST_CASE("dialogue: 550 5.4.5 after the body") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.body = body;
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 250 2.1.5 OK
        S: 250 2.1.5 OK
        S: 250 2.1.5 OK
        S: 354  Go ahead
        BODY
    )" + stuffed_body +
          R"(
        S: 550 5.4.5 Daily user sending limit exceeded.
        C: RSET
        S: 250 2.1.5 Flushed
        IDLE
    )");
    for (const auto& o : d.results.at(0).recipients) {
        check_outcome(o, Stage::body, 550, "5.4.5");
        CHECK(classify(o) == Verdict::account_exhausted);
    }
}

TEST_CASE("dialogue: 421 at the greeting: Failed, no QUIT") {
    Dialogue d(config());
    d.run(R"(
        S: 421-4.7.0 [203.0.113.7 15] Our system has detected an unusual rate of
        S: 421 4.7.0 unsolicited mail originating from your IP address.
        FAILED greeting 421
    )");
    REQUIRE(d.failure);
    CHECK(classify(*d.failure) == Verdict::ip_cooldown);
    CHECK(d.writes.empty());
}

TEST_CASE("dialogue: 421 at RCPT ends the session; every pending recipient gets it") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 250 2.1.5 OK
        S: 550 5.1.1 no such user
        S: 421 4.7.0 Try again later, closing connection.
        FAILED rcpt 421
    )");
    REQUIRE(d.results.size() == 1);
    const auto& r = d.results[0].recipients;
    check_outcome(r[0], Stage::rcpt, 421);  // accepted but never delivered
    check_outcome(r[1], Stage::rcpt, 550);
    check_outcome(r[2], Stage::rcpt, 421);
    CHECK(classify(r[2]) == Verdict::account_cooldown);
    CHECK_FALSE(d.session.reusable());
}

TEST_CASE("dialogue: one session, three messages with RSET between, one AUTH") {
    Dialogue d(config());
    d.body = body;
    for (int i = 0; i < 3; ++i) d.messages.push_back(message({"x" + std::to_string(i) + "@example.org"}));
    std::string script = plain_login;
    for (int i = 0; i < 3; ++i) {
        script += "BEGIN " + std::to_string(i) +
                  "\nC: MAIL FROM:<reminders01@agency.example> SIZE=31 BODY=8BITMIME\nC: RCPT TO:<x" +
                  std::to_string(i) +
                  "@example.org>\nC: DATA\nS: 250 2.1.0 OK\nS: 250 2.1.5 OK\nS: 354 Go ahead\nBODY\n" +
                  stuffed_body + "S: 250 2.0.0 OK\nC: RSET\nS: 250 2.1.5 Flushed\n";
    }
    script += "QUIT\nC: QUIT\nS: 221 2.0.0 bye\nDONE\n";
    d.run(script);
    REQUIRE(d.results.size() == 3);
    for (const auto& r : d.results) CHECK(r.delivered(0));
    CHECK(count_prefix(d.writes, "AUTH") == 1);
    CHECK(count_prefix(d.writes, "EHLO") == 2);
    CHECK(count_prefix(d.writes, "RSET") == 3);
    CHECK(d.session.messages_started() == 3);
}

TEST_CASE("dialogue: STARTTLS injection: bytes after the 220 fail the session before TLS") {
    Dialogue d(config());
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250 STARTTLS
        C: STARTTLS
        S: 220 2.0.0 Ready to start TLS
        S: 250-injected
        S: 250 AUTH PLAIN
        FAILED starttls 0
    )");
    REQUIRE(d.failure);
    CHECK(d.failure->local == LocalFailure::protocol);
}

TEST_CASE("dialogue: STARTTLS required but not offered: tls failure, QUIT") {
    Dialogue d(config());
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250 AUTH PLAIN LOGIN
        C: QUIT
        FAILED starttls 0
    )");
    CHECK(deferral_reason(*d.failure, classify(*d.failure)) == "tls");
}

TEST_CASE("dialogue: certificate verification failure") {
    Dialogue d(config());
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250 STARTTLS
        C: STARTTLS
        S: 220 go ahead
        TLSFAIL
        FAILED tls 0
    )");
    CHECK(d.failure->local == LocalFailure::tls_verify);
}

TEST_CASE("dialogue: no usable AUTH mechanism offered: Failed at auth, no AUTH sent") {
    Dialogue d(config(ClientTls::none));
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250 AUTH CRAM-MD5
        C: QUIT
        FAILED auth 0
    )");
    CHECK(count_prefix(d.writes, "AUTH") == 0);
}

TEST_CASE("dialogue: BDAT with CHUNKING: no dot-stuffing, chunks, LAST; filter applied") {
    ClientConfig c = config(ClientTls::none);
    c.bdat_chunk_size = 20;
    Dialogue d(c);
    OutgoingMessage m = message({"a@example.org"});
    m.filter.strip_headers = {"Received"};
    m.filter.rewrite_from_to = user;
    d.messages = {m};
    d.body = "Received: x\r\nFrom: B <b@shop>\r\n\r\n.dot\r\n";
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250-PIPELINING
        S: 250-CHUNKING
        S: 250 AUTH PLAIN
        C: AUTH PLAIN AHJlbWluZGVyczAxQGFnZW5jeS5leGFtcGxlAGFwcC1wYXNzd29yZA==
        S: 235 ok
        BEGIN 0
        C: MAIL FROM:<reminders01@agency.example>
        C: RCPT TO:<a@example.org>
        S: 250 ok
        S: 250 ok
        BODY
        S: 250 2.0.0 chunk 1
        BODY
        DRAIN
        S: 250 2.0.0 OK message queued
        C: RSET
        S: 250 ok
        IDLE
    )");
    // The body went out as BDAT chunks of the filtered message, undotted: the
    // first chunk once at least 20 filtered bytes were buffered (the header
    // block is released whole), then the rest with LAST.
    const std::string filtered =
        "From: B <reminders01@agency.example>\r\nReply-To: B <b@shop>\r\n\r\n.dot\r\n";
    REQUIRE(filtered.size() == 68);
    std::string sent;
    for (const auto& w : d.writes) sent += w;
    CHECK(sent.find("BDAT 64\r\n" + filtered.substr(0, 64) + "BDAT 4 LAST\r\n" + filtered.substr(64)) !=
          std::string::npos);
    CHECK(d.results.at(0).delivered(0));
}

TEST_CASE("dialogue: a failed BDAT chunk ends the transaction with RSET") {
    ClientConfig c = config(ClientTls::none);
    c.bdat_chunk_size = 8;
    c.use_pipelining = false;
    Dialogue d(c);
    d.messages = {message({"a@example.org"})};
    d.body = "0123456789abcdef";
    d.piece = 16;
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250-CHUNKING
        S: 250 AUTH PLAIN
        C: AUTH PLAIN AHJlbWluZGVyczAxQGFnZW5jeS5leGFtcGxlAGFwcC1wYXNzd29yZA==
        S: 235 ok
        BEGIN 0
        C: MAIL FROM:<reminders01@agency.example>
        S: 250 ok
        C: RCPT TO:<a@example.org>
        S: 250 ok
        BODY
        DRAIN
        S: 552 5.3.4 too big
        C: RSET
        S: 250 ok
        IDLE
    )");
    CHECK(d.drained == "BDAT 16\r\n0123456789abcdef");  // no LAST: the server refused before the end
    check_outcome(d.results.at(0).recipients[0], Stage::body, 552, "5.3.4");
}

TEST_CASE("dialogue: timeout waiting for the end-of-data reply") {
    Dialogue d(config());
    d.messages = {message({"a@example.org", "b@example.org", "c@example.org"})};
    d.body = body;
    d.run(plain_login + pipelined_3 + R"(
        S: 250 2.1.0 OK
        S: 550 5.1.1 no
        S: 250 2.1.5 OK
        S: 250 2.1.5 OK
        S: 354  Go ahead
        BODY
    )" + stuffed_body +
          R"(
        TIMEOUT
        FAILED body 0
    )");
    const auto& r = d.results.at(0).recipients;
    check_outcome(r[0], Stage::rcpt, 550);
    CHECK(r[1].local == LocalFailure::timeout);
    CHECK(to_string(r[1].stage) == "body");
    CHECK(classify(r[2]) == Verdict::upstream_failure);
}

TEST_CASE("session: begin_message only while Idle; SMTPUTF8 only when offered") {
    Dialogue d(config(ClientTls::none));
    CHECK_FALSE(d.session.begin_message(message({"a@example.org"})));  // still at the greeting
    OutgoingMessage m = message({"ü@example.org"}, 0);
    m.smtputf8 = true;
    m.body_8bitmime = false;
    d.messages = {m};
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250-SMTPUTF8
        S: 250 AUTH PLAIN
        C: AUTH PLAIN AHJlbWluZGVyczAxQGFnZW5jeS5leGFtcGxlAGFwcC1wYXNzd29yZA==
        S: 235 ok
        BEGIN 0
        C: MAIL FROM:<reminders01@agency.example> SMTPUTF8
    )");
    CHECK_FALSE(d.session.begin_message(message({"b@example.org"})));  // a message is in progress
    CHECK_FALSE(d.session.begin_message(OutgoingMessage{}));
}

TEST_CASE("session: addresses with CR, LF or NUL are refused before anything is written") {
    Dialogue d(config(ClientTls::none));
    d.run(R"(
        S: 220 mx ESMTP
        C: EHLO relay.example.com
        S: 250-mx
        S: 250 AUTH PLAIN
        C: AUTH PLAIN AHJlbWluZGVyczAxQGFnZW5jeS5leGFtcGxlAGFwcC1wYXNzd29yZA==
        S: 235 ok
        IDLE
    )");
    CHECK_FALSE(d.session.begin_message(message({"a@example.org>\r\nRCPT TO:<evil@example.org"})));
    OutgoingMessage bad_from = message({"a@example.org"});
    bad_from.mail_from = std::string("x@y\0", 4);
    CHECK_FALSE(d.session.begin_message(bad_from));
    CHECK(d.session.begin_message(message({"a@example.org"})));  // still usable
}

TEST_CASE("session: timeouts are RFC 5321 4.5.3.2 values per stage") {
    ClientTimeouts t;
    using namespace std::chrono_literals;
    CHECK(t.greeting == 5min);
    CHECK(t.mail == 5min);
    CHECK(t.rcpt == 5min);
    CHECK(t.data_init == 2min);
    CHECK(t.data_block == 3min);
    CHECK(t.data_end == 10min);
    ClientSession s(config());
    auto a = s.next();
    REQUIRE(std::holds_alternative<client_action::ReadReply>(a));
    CHECK(std::get<client_action::ReadReply>(a).timeout == 5min);
}

TEST_CASE("dialogue: replies out of sequence never read as delivered") {
    SUBCASE("250 to DATA: no body was sent") {
        Dialogue d(config());
        d.messages = {message({"a@example.org"})};
        d.run(plain_login + R"(
            BEGIN 0
            C: MAIL FROM:<reminders01@agency.example> SIZE=31 BODY=8BITMIME
            C: RCPT TO:<a@example.org>
            C: DATA
            S: 250 2.1.0 OK
            S: 250 2.1.5 OK
            S: 250 2.0.0 OK
            C: QUIT
            FAILED data 250
        )");
        const auto& o = d.results.at(0).recipients.at(0);
        CHECK(o.local == LocalFailure::protocol);
        CHECK(classify(o) == Verdict::upstream_failure);
        CHECK_FALSE(d.results[0].delivered(0));
    }
    SUBCASE("250 as the greeting") {
        Dialogue d(config());
        d.run(R"(
            S: 250 hello
            C: QUIT
            FAILED greeting 250
        )");
        CHECK(classify(*d.failure) == Verdict::upstream_failure);
    }
    SUBCASE("220 to AUTH") {
        Dialogue d(config());
        std::string script = plain_login;
        script.replace(script.find("S: 235 2.7.0 Accepted"), 21, "S: 220 what\n C: QUIT\n FAILED auth 220");
        d.run(script);
        CHECK(d.failure->local == LocalFailure::protocol);
        CHECK_FALSE(d.session.authenticated());
    }
}
