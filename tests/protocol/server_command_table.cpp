// Table-driven tests of the SMTP command-line parser (protocol/smtp_command):
// every verb, every parameter, and malformed variants with the exact reply
// code and enhanced status each must produce.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/smtp_command.hpp"

using namespace rp::protocol;

namespace {

struct Valid {
    std::string line;
    Verb verb;
    std::string argument;  // HELO name, VRFY argument, ...
};

struct Invalid {
    std::string line;
    int code;
    std::string enhanced;
};

}  // namespace

TEST_CASE("every verb parses") {
    const std::vector<Valid> cases = {
        {"HELO client.example", Verb::helo, "client.example"},
        {"helo client.example", Verb::helo, "client.example"},
        {"EHLO client.example", Verb::ehlo, "client.example"},
        {"EHLO [192.0.2.1]", Verb::ehlo, "[192.0.2.1]"},
        {"EHLO   spaced.example  ", Verb::ehlo, "spaced.example"},
        {"MAIL FROM:<a@b.example>", Verb::mail, ""},
        {"RCPT TO:<a@b.example>", Verb::rcpt, ""},
        {"DATA", Verb::data, ""},
        {"data", Verb::data, ""},
        {"DATA ", Verb::data, ""},
        {"BDAT 10", Verb::bdat, ""},
        {"RSET", Verb::rset, ""},
        {"NOOP", Verb::noop, ""},
        {"NOOP anything at all", Verb::noop, "anything at all"},
        {"QUIT", Verb::quit, ""},
        {"VRFY postmaster", Verb::vrfy, "postmaster"},
        {"HELP", Verb::help, ""},
        {"HELP MAIL", Verb::help, "MAIL"},
        {"STARTTLS", Verb::starttls, ""},
        {"AUTH PLAIN", Verb::auth, ""},
        {"EXPN staff", Verb::not_implemented, "staff"},
        {"TURN", Verb::not_implemented, ""},
        {"ETRN example.com", Verb::not_implemented, "example.com"},
        {"GET / HTTP/1.1", Verb::non_smtp, ""},
        {"POST /x HTTP/1.0", Verb::non_smtp, ""},
        {"CONNECT host:25 HTTP/1.1", Verb::non_smtp, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE(r.ok());
        CHECK(r.command->verb == c.verb);
        CHECK(r.command->argument == c.argument);
    }
}

TEST_CASE("malformed commands get the right 5xx and enhanced code") {
    const std::vector<Invalid> cases = {
        // unknown / garbage
        {"", 500, "5.5.2"},
        {"FOO", 500, "5.5.2"},
        {"MAILFROM:<a@b>", 500, "5.5.2"},
        {"EHLO\x01x", 501, "5.5.2"},
        {"NOOP a\rb", 501, "5.5.2"},
        {"NOOP \x7f", 501, "5.5.2"},
        // HELO/EHLO
        {"HELO", 501, "5.5.4"},
        {"EHLO", 501, "5.5.4"},
        {"EHLO a b", 501, "5.5.4"},
        {"EHLO h\xc3\xa9.example", 501, "5.5.4"},
        {"EHLO " + std::string(256, 'a'), 501, "5.5.4"},
        // verbs that take no parameters
        {"DATA x", 501, "5.5.4"},
        {"RSET x", 501, "5.5.4"},
        {"QUIT now", 501, "5.5.4"},
        {"STARTTLS x", 501, "5.5.4"},
        {"VRFY", 501, "5.5.4"},
        // MAIL syntax
        {"MAIL", 501, "5.5.4"},
        {"MAIL TO:<a@b.example>", 501, "5.5.4"},
        {"MAIL FROM:", 501, "5.1.7"},
        {"MAIL FROM:<", 501, "5.1.7"},
        {"MAIL FROM:<a@b.example", 501, "5.1.7"},
        {"MAIL FROM:<a@>", 501, "5.1.7"},
        {"MAIL FROM:<@b.example>", 501, "5.1.7"},
        {"MAIL FROM:<a..b@c.example>", 501, "5.1.7"},
        {"MAIL FROM:<.a@c.example>", 501, "5.1.7"},
        {"MAIL FROM:<a@-c.example>", 501, "5.1.7"},
        {"MAIL FROM:<a@c-.example>", 501, "5.1.7"},
        {"MAIL FROM:<a@c..example>", 501, "5.1.7"},
        {"MAIL FROM:<a b@c.example>", 501, "5.1.7"},
        {"MAIL FROM:<\"a@c.example>", 501, "5.1.7"},
        {"MAIL FROM:<a@b.example>x", 501, "5.1.7"},
        {"MAIL FROM:<postmaster>", 501, "5.1.7"},
        {"MAIL FROM:<a@[300.1.1.1]>", 501, "5.1.7"},
        {"MAIL FROM:<a@[IPv6:zz::1]>", 501, "5.1.7"},
        {"MAIL FROM:<" + std::string(250, 'a') + "@b.example>", 501, "5.1.7"},
        {"MAIL FROM:<a\xff@b.example> SMTPUTF8", 501, "5.1.7"},
        {"MAIL FROM:<\xc3\xa9@b.example>", 553, "5.6.7"},
        {"MAIL FROM:<a@\xc3\xa9.example>", 553, "5.6.7"},
        // MAIL parameters
        {"MAIL FROM:<a@b.example> SIZE", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SIZE=", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SIZE=abc", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SIZE=-1", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SIZE=99999999999999999999", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> BODY=BINARYMIME", 555, "5.5.4"},
        {"MAIL FROM:<a@b.example> BODY=", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> RET=ALL", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> ENVID=" + std::string(101, 'x'), 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> ENVID=a+zz", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> AUTH", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> XFOO=1", 555, "5.5.4"},
        {"MAIL FROM:<a@b.example> XFOO", 555, "5.5.4"},
        {"MAIL FROM:<a@b.example> =1", 501, "5.5.4"},
        {"MAIL FROM:<a@b.example> A=b=c", 501, "5.5.4"},
        // RCPT syntax and parameters
        {"RCPT", 501, "5.5.4"},
        {"RCPT FROM:<a@b.example>", 501, "5.5.4"},
        {"RCPT TO:<>", 501, "5.1.3"},
        {"RCPT TO:<a@>", 501, "5.1.3"},
        {"RCPT TO:<postmaster>", 501, "5.1.3"},
        {"RCPT TO:<a@b.example> NOTIFY=SOMETIMES", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> NOTIFY", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> NOTIFY=DELAY NOTIFY=DELAY", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> ORCPT=rfc822", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> ORCPT=;a@b", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> ORCPT=rfc822;", 501, "5.5.4"},
        {"RCPT TO:<a@b.example> SIZE=10", 555, "5.5.4"},
        // BDAT
        {"BDAT", 501, "5.5.4"},
        {"BDAT x", 501, "5.5.4"},
        {"BDAT -1", 501, "5.5.4"},
        {"BDAT 10 FIRST", 501, "5.5.4"},
        {"BDAT 10 LAST more", 501, "5.5.4"},
        {"BDAT 99999999999999999999", 501, "5.5.4"},
        // AUTH
        {"AUTH", 501, "5.5.4"},
        {"AUTH PLAIN a b", 501, "5.5.4"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == c.code);
        CHECK(r.error.enhanced == c.enhanced);
    }
}

TEST_CASE("MAIL paths and parameters") {
    struct Case {
        std::string line;
        std::string address;
        bool null_path;
        std::optional<std::uint64_t> size;
        BodyType body;
        bool smtputf8;
        std::string ret, envid, auth;
    };
    const std::vector<Case> cases = {
        {"MAIL FROM:<a@b.example>", "a@b.example", false, {}, BodyType::none, false, "", "", ""},
        {"mail from:<a@b.example>", "a@b.example", false, {}, BodyType::none, false, "", "", ""},
        {"MAIL FROM:<>", "", true, {}, BodyType::none, false, "", "", ""},
        {"MAIL FROM: <a@b.example>", "a@b.example", false, {}, BodyType::none, false, "", "", ""},
        {"MAIL FROM:a@b.example", "a@b.example", false, {}, BodyType::none, false, "", "", ""},
        {"MAIL FROM:a@b.example SIZE=5", "a@b.example", false, 5, BodyType::none, false, "", "", ""},
        {"MAIL FROM:<@r1.example,@r2.example:a@b.example>",
         "a@b.example",
         false,
         {},
         BodyType::none,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<\"john doe\"@b.example>",
         "\"john doe\"@b.example",
         false,
         {},
         BodyType::none,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<\"a\\\"b\"@b.example>",
         "\"a\\\"b\"@b.example",
         false,
         {},
         BodyType::none,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<a+tag@[192.0.2.1]>", "a+tag@[192.0.2.1]", false, {}, BodyType::none, false, "", "", ""},
        {"MAIL FROM:<a@[IPv6:2001:db8::1]>",
         "a@[IPv6:2001:db8::1]",
         false,
         {},
         BodyType::none,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<a@b.example> SIZE=1000", "a@b.example", false, 1000, BodyType::none, false, "", "", ""},
        {"MAIL FROM:<a@b.example> size=0", "a@b.example", false, 0, BodyType::none, false, "", "", ""},
        {"MAIL FROM:<a@b.example> BODY=8BITMIME",
         "a@b.example",
         false,
         {},
         BodyType::eight_bit_mime,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<a@b.example> BODY=7bit",
         "a@b.example",
         false,
         {},
         BodyType::seven_bit,
         false,
         "",
         "",
         ""},
        {"MAIL FROM:<a@b.example> SMTPUTF8", "a@b.example", false, {}, BodyType::none, true, "", "", ""},
        {"MAIL FROM:<\xc3\xa9t\xc3\xa9@b\xc3\xbc.example> SMTPUTF8",
         "\xc3\xa9t\xc3\xa9@b\xc3\xbc.example",
         false,
         {},
         BodyType::none,
         true,
         "",
         "",
         ""},
        {"MAIL FROM:<a@b.example> RET=hdrs ENVID=QQ+2B1",
         "a@b.example",
         false,
         {},
         BodyType::none,
         false,
         "HDRS",
         "QQ+2B1",
         ""},
        {"MAIL FROM:<a@b.example> AUTH=<>", "a@b.example", false, {}, BodyType::none, false, "", "", "<>"},
        {"MAIL FROM:<a@b.example> AUTH=u+40x",
         "a@b.example",
         false,
         {},
         BodyType::none,
         false,
         "",
         "",
         "u+40x"},
        {"MAIL FROM:<a@b.example>  SIZE=1   BODY=8BITMIME  ", "a@b.example", false, 1,
         BodyType::eight_bit_mime, false, "", "", ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE(r.ok());
        const auto& m = r.command->mail;
        CHECK(m.path.address == c.address);
        CHECK(m.path.null_path == c.null_path);
        CHECK(m.size == c.size);
        CHECK(m.body == c.body);
        CHECK(m.smtputf8 == c.smtputf8);
        CHECK(m.ret == c.ret);
        CHECK(m.envid == c.envid);
        CHECK(m.auth == c.auth);
    }
}

TEST_CASE("RCPT paths and DSN parameters") {
    struct Case {
        std::string line;
        std::string address;
        bool utf8;
        std::string notify, orcpt;
    };
    const std::vector<Case> cases = {
        {"RCPT TO:<c@d.example>", "c@d.example", false, "", ""},
        {"RCPT TO: <c@d.example>", "c@d.example", false, "", ""},
        {"rcpt to:<C@D.Example>", "C@D.Example", false, "", ""},
        {"RCPT TO:<\xc3\xa9@d.example>", "\xc3\xa9@d.example", true, "", ""},
        {"RCPT TO:<c@d.example> NOTIFY=never", "c@d.example", false, "NEVER", ""},
        {"RCPT TO:<c@d.example> NOTIFY=SUCCESS,FAILURE,DELAY", "c@d.example", false, "SUCCESS,FAILURE,DELAY",
         ""},
        {"RCPT TO:<c@d.example> ORCPT=rfc822;c+40d.example", "c@d.example", false, "",
         "rfc822;c+40d.example"},
        {"RCPT TO:<c@d.example> NOTIFY=FAILURE ORCPT=rfc822;x", "c@d.example", false, "FAILURE", "rfc822;x"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE(r.ok());
        CHECK(r.command->rcpt.path.address == c.address);
        CHECK(r.command->rcpt.path.utf8 == c.utf8);
        CHECK(r.command->rcpt.notify == c.notify);
        CHECK(r.command->rcpt.orcpt == c.orcpt);
    }
}

TEST_CASE("BDAT and AUTH arguments") {
    struct BdatCase {
        std::string line;
        std::uint64_t size;
        bool last;
    };
    for (const auto& c : std::vector<BdatCase>{{"BDAT 0", 0, false},
                                               {"BDAT 0 LAST", 0, true},
                                               {"bdat 123 last", 123, true},
                                               {"BDAT 9999999999999999999", 9999999999999999999ull, false}}) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE(r.ok());
        CHECK(r.command->bdat.size == c.size);
        CHECK(r.command->bdat.last == c.last);
    }
    struct AuthCase {
        std::string line;
        std::string mechanism;
        std::optional<std::string> ir;
    };
    for (const auto& c : std::vector<AuthCase>{{"AUTH PLAIN", "PLAIN", std::nullopt},
                                               {"auth login", "LOGIN", std::nullopt},
                                               {"AUTH PLAIN =", "PLAIN", "="},
                                               {"AUTH PLAIN AGEAYg==", "PLAIN", "AGEAYg=="},
                                               {"AUTH XOAUTH2 abc", "XOAUTH2", "abc"}}) {
        CAPTURE(c.line);
        auto r = parse_command(c.line);
        REQUIRE(r.ok());
        CHECK(r.command->auth.mechanism == c.mechanism);
        CHECK(r.command->auth.initial_response == c.ir);
    }
}
