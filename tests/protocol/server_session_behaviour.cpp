// ServerSession properties that scripts cannot express: the same input
// split at every point gives the same transcript; replies to pipelined
// commands are coalesced; buffering stays bounded; large bodies are handed
// out in bounded slices; results out of order are bugs.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "protocol/server_session.hpp"

using namespace rp::protocol;
using namespace std::string_literals;

namespace {

struct Transcript {
    std::string out;
    std::vector<std::string> events;
    std::size_t largest_slice = 0;
    std::size_t max_buffered = 0;
    bool operator==(const Transcript& o) const { return out == o.out && events == o.events; }
};

// Drives a session over `pieces`, answering every action like a healthy
// driver (password "good" is right; the spool always works).
Transcript drive(const SessionOptions& opt, const std::vector<std::string_view>& pieces) {
    ServerSession s(opt);
    Transcript t;
    t.out = s.greeting().format();
    std::string content;
    std::size_t next_piece = 0;
    int queued = 0;
    for (;;) {
        t.max_buffered = std::max(t.max_buffered, s.buffered());
        Action a = s.next();
        if (auto* w = std::get_if<action::Write>(&a)) {
            t.out += w->bytes;
        } else if (std::holds_alternative<action::NeedMore>(a)) {
            if (next_piece == pieces.size()) return t;
            s.feed(pieces[next_piece++]);
        } else if (std::holds_alternative<action::StartTls>(a)) {
            t.events.push_back("tls");
            s.tls_started();
        } else if (auto* v = std::get_if<action::VerifyAuth>(&a)) {
            t.events.push_back("auth " + v->mechanism + " " + v->username);
            s.auth_result(v->password == "good");
        } else if (auto* b = std::get_if<action::BeginMessage>(&a)) {
            std::string e = "begin " + b->envelope.mail_from;
            for (const auto& r : b->envelope.recipients) e += " " + r.address;
            t.events.push_back(e);
            s.message_begun(true);
        } else if (auto* d = std::get_if<action::MessageData>(&a)) {
            content.append(d->bytes);
            t.largest_slice = std::max(t.largest_slice, d->bytes.size());
        } else if (std::holds_alternative<action::CommitMessage>(a)) {
            t.events.push_back("commit " + content);
            content.clear();
            s.message_committed("Q" + std::to_string(++queued));
        } else if (std::holds_alternative<action::AbortMessage>(a)) {
            t.events.push_back("abort");
            content.clear();
        } else if (std::holds_alternative<action::Close>(a)) {
            t.events.push_back("close");
            return t;
        }
    }
}

SessionOptions implicit_options() {
    SessionOptions o;
    o.hostname = "relay.test";
    o.tls = TlsMode::implicit;
    o.max_message_size = 300;
    return o;
}

const std::string kLongSession =
    "EHLO client.example\r\n"
    "AUTH LOGIN\r\ndXNlcg==\r\nYmFk\r\n"  // user / bad -> 535
    "AUTH PLAIN AHVzZXIAZ29vZA==\r\n"     // user / good -> 235
    "MAIL FROM:<a@b.example> SIZE=100\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example>\r\nDATA\r\n"
    "Subject: x\r\n\r\n..dot\r\nbare\nlf\n.\nnot the end\r\n\r.\r\n.\r\n"
    "MAIL FROM:<>\r\nRCPT TO:<c@d.example>\r\nBDAT 5\r\nab\r\n.BDAT 3 LAST\r\nxyz"
    "NOOP " +
    std::string(700, 'n') +
    "\r\nWHAT\r\n"
    "MAIL FROM:<a@b.example> SIZE=301\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" +
    std::string(350, 'z') +
    "\r\n.\r\n"
    "RSET\r\nVRFY x\r\nQUIT\r\n";

}  // namespace

TEST_CASE("session: every split point gives the same transcript") {
    const std::string_view in = kLongSession;
    const Transcript whole = drive(implicit_options(), {in});
    // sanity: the whole run did what the input says
    std::string all_events;
    for (const auto& e : whole.events) all_events += "[" + e + "]";
    CAPTURE(all_events);
    CAPTURE(whole.out);
    REQUIRE(whole.events.size() == 9);
    CHECK(whole.events[0] == "auth LOGIN user");
    CHECK(whole.events[1] == "auth PLAIN user");
    CHECK(whole.events[2] == "begin a@b.example c@d.example e@f.example");
    CHECK(whole.events[3] == "commit Subject: x\r\n\r\n.dot\r\nbare\r\nlf\r\n\r\nnot the end\r\n\r\n\r\n");
    CHECK(whole.events[4] == "begin  c@d.example");
    CHECK(whole.events[5] == "commit ab\r\n.xyz");
    CHECK(whole.events[6] == "begin a@b.example c@d.example");
    CHECK(whole.events[7] == "abort");
    CHECK(whole.events[8] == "close");
    CHECK(whole.out.find("535 5.7.8") != std::string::npos);
    CHECK(whole.out.find("250 2.0.0 5 octets received\r\n") != std::string::npos);
    CHECK(whole.out.find("500 5.5.2 Line too long\r\n500 5.5.2 Command unrecognized\r\n") !=
          std::string::npos);
    CHECK(whole.out.find("552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0") != std::string::npos);
    CHECK(whole.out.substr(whole.out.size() - 60).find("221 2.0.0") != std::string::npos);

    for (std::size_t i = 1; i < in.size(); ++i) {
        CAPTURE(i);
        REQUIRE(drive(implicit_options(), {in.substr(0, i), in.substr(i)}) == whole);
    }
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
    CHECK(drive(implicit_options(), bytes) == whole);
}

TEST_CASE("session: pipelined replies are coalesced into one write") {
    ServerSession s(implicit_options());
    s.feed("EHLO c\r\nNOOP\r\nNOOP\r\nVRFY x\r\nRSET\r\n");
    Action a = s.next();
    REQUIRE(std::holds_alternative<action::Write>(a));
    const std::string& w = std::get<action::Write>(a).bytes;
    CHECK(w.find("250 CHUNKING\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n252 2.0.0") != std::string::npos);
    CHECK(w.substr(w.size() - 14) == "250 2.0.0 Ok\r\n");
    CHECK(std::holds_alternative<action::NeedMore>(s.next()));
}

TEST_CASE("session: commands wait while an asynchronous result is pending") {
    SessionOptions o = implicit_options();
    ServerSession s(o);
    s.feed("EHLO c\r\nAUTH PLAIN AHUAcA==\r\nNOOP\r\nMAIL FROM:<a@b.example>\r\n");
    REQUIRE(std::holds_alternative<action::Write>(s.next()));
    REQUIRE(std::holds_alternative<action::VerifyAuth>(s.next()));
    CHECK_THROWS_AS(s.next(), std::logic_error);
    CHECK_THROWS_AS(s.message_begun(true), std::logic_error);
    s.auth_result(true);
    Action a = s.next();
    REQUIRE(std::holds_alternative<action::Write>(a));
    CHECK(std::get<action::Write>(a).bytes ==
          "235 2.7.0 Authentication successful\r\n250 2.0.0 Ok\r\n250 2.1.0 Sender ok\r\n");
    CHECK(s.authenticated());
    CHECK(s.auth_user() == "u");
}

TEST_CASE("session: bytes arriving before the TLS handshake completes are discarded") {
    SessionOptions o;
    o.hostname = "relay.test";
    ServerSession s(o);
    s.feed("EHLO c\r\nSTARTTLS\r\n");
    REQUIRE(std::holds_alternative<action::Write>(s.next()));  // EHLO + 220
    REQUIRE(std::holds_alternative<action::StartTls>(s.next()));
    CHECK_FALSE(s.tls_active());
    s.tls_started();
    CHECK(s.tls_active());
    CHECK(s.helo().empty());
    s.feed("NOOP\r\n");
    Action a = s.next();
    REQUIRE(std::holds_alternative<action::Write>(a));
    CHECK(std::get<action::Write>(a).bytes == "250 2.0.0 Ok\r\n");
}

TEST_CASE("session: buffering stays bounded for endless lines") {
    SessionOptions o = implicit_options();
    o.max_bad_commands = 1000;
    std::string chunk(4096, 'x');
    std::vector<std::string_view> pieces(256, chunk);  // 1 MiB without a line end
    Transcript t = drive(o, pieces);
    CHECK(t.out.find("500 5.5.2 Line too long\r\n") != std::string::npos);
    CHECK(t.out.find("500 5.5.2 Line too long\r\n500") == std::string::npos);  // answered once
    CHECK(t.max_buffered <= 4096 + 512);
}

TEST_CASE("session: a large message is handed out in bounded slices") {
    SessionOptions o = implicit_options();
    o.max_message_size = 4 * 1024 * 1024;
    o.client_trusted = true;
    o.require_auth = false;
    std::string body;
    for (int i = 0; i < 30000; ++i) body += "line " + std::to_string(i) + " of the message body\r\n";
    std::string in =
        "HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" + body + ".\r\nQUIT\r\n";
    Transcript t = drive(o, {in});
    REQUIRE(t.events.size() == 3);
    CHECK(t.events[1] == "commit " + body);
    CHECK(t.largest_slice <= 64 * 1024);
    CHECK(t.events[2] == "close");
}

TEST_CASE("session: the longest DATA line is reported with the commit") {
    SessionOptions o = implicit_options();
    o.client_trusted = true;
    o.require_auth = false;
    ServerSession s(o);
    s.feed("HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    REQUIRE(std::holds_alternative<action::Write>(s.next()));
    REQUIRE(std::holds_alternative<action::BeginMessage>(s.next()));
    s.message_begun(true);
    REQUIRE(std::holds_alternative<action::Write>(s.next()));  // 354
    s.feed("short\r\n" + std::string(120, 'x') + "\r\nmid\r\n.\r\n");
    REQUIRE(std::holds_alternative<action::MessageData>(s.next()));
    Action a = s.next();
    REQUIRE(std::holds_alternative<action::CommitMessage>(a));
    CHECK(std::get<action::CommitMessage>(a).longest_line == 120);
}

TEST_CASE("session: after Close everything is ignored") {
    ServerSession s(implicit_options());
    s.feed("QUIT\r\nNOOP\r\n");
    REQUIRE(std::holds_alternative<action::Write>(s.next()));
    REQUIRE(std::holds_alternative<action::Close>(s.next()));
    CHECK(s.closed());
    s.feed("NOOP\r\n");
    CHECK(std::holds_alternative<action::Close>(s.next()));
}

TEST_CASE("session: Received protocol names (RFC 3848)") {
    struct Case {
        TlsMode tls;
        std::string hello;
        bool auth;
        std::string protocol;
    };
    for (const auto& c : std::vector<Case>{{TlsMode::implicit, "EHLO", true, "ESMTPSA"},
                                           {TlsMode::implicit, "EHLO", false, "ESMTPS"},
                                           {TlsMode::implicit, "HELO", false, "SMTP"},
                                           {TlsMode::none, "EHLO", false, "ESMTP"}}) {
        SessionOptions o;
        o.tls = c.tls;
        o.require_auth = !c.auth ? false : true;
        o.client_trusted = !c.auth;
        ServerSession s(o);
        std::string in = c.hello + " c\r\n";
        if (c.auth) in += "AUTH PLAIN AHUAcA==\r\n";
        in += "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n";
        s.feed(in);
        std::optional<Envelope> env;
        for (int i = 0; i < 10 && !env; ++i) {
            Action a = s.next();
            if (std::holds_alternative<action::VerifyAuth>(a)) s.auth_result(true);
            if (auto* b = std::get_if<action::BeginMessage>(&a)) env = b->envelope;
        }
        REQUIRE(env);
        CHECK(env->protocol == c.protocol);
    }
}
