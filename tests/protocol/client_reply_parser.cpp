// UpstreamReplyParser and parse_ehlo: table cases, every split of the input
// into two feeds, pipelined replies in one read, bounds and garbage.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/upstream_reply.hpp"

using namespace rp::protocol;

namespace {

// Feeds `wire` split at `cut` and returns every complete reply (stops at error).
std::vector<UpstreamReply> parse_all(const std::string& wire, std::size_t cut, bool* error = nullptr) {
    UpstreamReplyParser p;
    std::vector<UpstreamReply> out;
    auto drain = [&] {
        UpstreamReply r;
        for (;;) {
            auto st = p.next(r);
            if (st == ReplyParseStatus::reply)
                out.push_back(r);
            else {
                if (error) *error = st == ReplyParseStatus::error;
                return;
            }
        }
    };
    p.feed(wire.substr(0, cut));
    drain();
    p.feed(wire.substr(cut));
    drain();
    return out;
}

const std::string gmail_ehlo =
    "250-smtp.gmail.com at your service, [203.0.113.7]\r\n"
    "250-SIZE 35882577\r\n"
    "250-8BITMIME\r\n"
    "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250-PIPELINING\r\n"
    "250-CHUNKING\r\n"
    "250 SMTPUTF8\r\n";

}  // namespace

TEST_CASE("reply parser: single and multi-line replies, at every split point") {
    const std::string wire =
        "220 smtp.gmail.com ESMTP a1sm - gsmtp\r\n"
        "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
        "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
        "550 5.1.1 unnecessary spaces. a1sm - gsmtp\r\n"
        "354  Go ahead a1sm - gsmtp\r\n"
        "250\r\n";
    for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
        CAPTURE(cut);
        bool error = false;
        auto replies = parse_all(wire, cut, &error);
        CHECK_FALSE(error);
        REQUIRE(replies.size() == 4);
        CHECK(replies[0].code == 220);
        CHECK(replies[0].enhanced == "");
        CHECK(replies[0].text() == "smtp.gmail.com ESMTP a1sm - gsmtp");
        CHECK(replies[1].code == 550);
        CHECK(replies[1].enhanced == "5.1.1");
        CHECK(replies[1].lines.size() == 3);
        CHECK(replies[1].lines[1] == "double-checking the recipient's email address for typos or");
        CHECK(replies[2].code == 354);
        CHECK(replies[2].intermediate());
        CHECK(replies[3].code == 250);
        CHECK(replies[3].lines == std::vector<std::string>{""});
    }
}

TEST_CASE("reply parser: bare LF line ends are accepted") {
    auto replies = parse_all("250-a\n250 2.0.0 ok\n", 3);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].lines == std::vector<std::string>{"a", "ok"});
}

TEST_CASE("reply parser: malformed input is an error, and sticky") {
    const std::vector<std::string> bad = {
        "hello\r\n",             // not a code
        "25\r\n",                // short
        "2500 x\r\n",            // 4th char neither ' ' nor '-'
        "650 x\r\n",             // class 6
        "150 x\r\n",             // class 1 is not SMTP
        "250-a\r\n251 b\r\n",    // code changes mid-reply
        "HTTP/1.1 400 Bad\r\n",  // someone else's protocol
    };
    for (const auto& wire : bad) {
        CAPTURE(wire);
        UpstreamReplyParser p;
        p.feed(wire);
        UpstreamReply r;
        CHECK(p.next(r) == ReplyParseStatus::error);
        CHECK_FALSE(p.error().empty());
        p.feed("250 ok\r\n");
        CHECK(p.next(r) == ReplyParseStatus::error);
    }
}

TEST_CASE("reply parser: bounded line length and line count") {
    {
        UpstreamReplyParser p(64, 10);
        p.feed("250 " + std::string(100, 'x'));  // no line end yet, already too long
        UpstreamReply r;
        CHECK(p.next(r) == ReplyParseStatus::error);
    }
    {
        UpstreamReplyParser p(64, 10);
        std::string wire;
        for (int i = 0; i < 11; ++i) wire += "250-x\r\n";
        p.feed(wire);
        UpstreamReply r;
        CHECK(p.next(r) == ReplyParseStatus::error);
    }
    {
        UpstreamReplyParser p(64, 10);
        p.feed("250 " + std::string(60, 'x') + "\r\n");
        UpstreamReply r;
        CHECK(p.next(r) == ReplyParseStatus::reply);
    }
}

TEST_CASE("reply parser: buffered() counts unconsumed bytes (STARTTLS injection check)") {
    UpstreamReplyParser p;
    p.feed("220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
    UpstreamReply r;
    REQUIRE(p.next(r) == ReplyParseStatus::reply);
    CHECK(r.code == 220);
    CHECK(p.buffered() == std::string("250 injected\r\n").size());
}

TEST_CASE("reply parser: enhanced status only when its class matches the code") {
    struct Case {
        std::string wire;
        std::string enhanced;
        std::string text;
    };
    const std::vector<Case> cases = {
        {"250 2.1.0 OK\r\n", "2.1.0", "OK"},
        {"550 5.7.26 DMARC\r\n", "5.7.26", "DMARC"},
        {"550 4.1.1 odd\r\n", "", "4.1.1 odd"},  // class mismatch: part of the text
        {"250 2.0.0\r\n", "2.0.0", ""},
        {"250 2.0 x\r\n", "", "2.0 x"},
        {"250 SIZE 35882577\r\n", "", "SIZE 35882577"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.wire);
        auto replies = parse_all(c.wire, 0);
        REQUIRE(replies.size() == 1);
        CHECK(replies[0].enhanced == c.enhanced);
        CHECK(replies[0].text() == c.text);
    }
}

TEST_CASE("parse_ehlo: Gmail's capability list") {
    auto replies = parse_all(gmail_ehlo, 17);
    REQUIRE(replies.size() == 1);
    EhloCapabilities caps = parse_ehlo(replies[0]);
    REQUIRE(caps.size.has_value());
    CHECK(*caps.size == 35882577u);
    CHECK(caps.eightbitmime);
    CHECK(caps.enhanced_status_codes);
    CHECK(caps.pipelining);
    CHECK(caps.chunking);
    CHECK(caps.smtputf8);
    CHECK_FALSE(caps.starttls);
    CHECK_FALSE(caps.dsn);
    CHECK(caps.offers_auth("plain"));
    CHECK(caps.offers_auth("LOGIN"));
    CHECK(caps.offers_auth("XOAUTH2"));
    CHECK_FALSE(caps.offers_auth("CRAM-MD5"));
}

TEST_CASE("parse_ehlo: STARTTLS, old AUTH= form, lower case, SIZE without a number") {
    auto replies =
        parse_all("250-mx.example\r\n250-starttls\r\n250-AUTH=LOGIN plain\r\n250-size\r\n250 DSN\r\n", 0);
    REQUIRE(replies.size() == 1);
    EhloCapabilities caps = parse_ehlo(replies[0]);
    CHECK(caps.starttls);
    CHECK(caps.dsn);
    CHECK(caps.offers_auth("LOGIN"));
    CHECK(caps.offers_auth("PLAIN"));
    CHECK(caps.auth.size() == 2);
    REQUIRE(caps.size.has_value());
    CHECK(*caps.size == 0u);
    CHECK_FALSE(caps.pipelining);
}

TEST_CASE("parse_ehlo: a bogus SIZE is ignored") {
    auto replies = parse_all("250-mx\r\n250 SIZE 12abc\r\n", 0);
    REQUIRE(replies.size() == 1);
    CHECK_FALSE(parse_ehlo(replies[0]).size.has_value());
}
