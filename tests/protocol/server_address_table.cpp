// Table-driven tests of SMTP path parsing (protocol/address): quoted local
// parts, <>, source routes, address literals, UTF-8 only when allowed.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/address.hpp"

using namespace rp::protocol;

TEST_CASE("valid paths") {
    struct Case {
        std::string text;
        bool utf8_allowed;
        std::string address, local, domain;
        std::size_t consumed;
    };
    const std::vector<Case> cases = {
        {"<a@b.example>", false, "a@b.example", "a", "b.example", 13},
        {"<a@b.example> SIZE=1", false, "a@b.example", "a", "b.example", 13},
        {"a@b.example SIZE=1", false, "a@b.example", "a", "b.example", 11},
        {"<first.last+tag@sub.b-c.example>", false, "first.last+tag@sub.b-c.example", "first.last+tag",
         "sub.b-c.example", 32},
        {"<!#$%&'*+-/=?^_`{|}~@x.example>", false, "!#$%&'*+-/=?^_`{|}~@x.example", "!#$%&'*+-/=?^_`{|}~",
         "x.example", 31},
        {"<\"john doe\"@b.example>", false, "\"john doe\"@b.example", "\"john doe\"", "b.example", 22},
        {"<\"a@b\"@c.example>", false, "\"a@b\"@c.example", "\"a@b\"", "c.example", 17},
        {"<\"\"@c.example>", false, "\"\"@c.example", "\"\"", "c.example", 14},
        {"<\"\\\\\"@c.example>", false, "\"\\\\\"@c.example", "\"\\\\\"", "c.example", 16},
        {"<@r.example:a@b.example>", false, "a@b.example", "a", "b.example", 24},
        {"<@r1.example,@r2.example:a@b.example>", false, "a@b.example", "a", "b.example", 37},
        {"<a@[192.0.2.1]>", false, "a@[192.0.2.1]", "a", "[192.0.2.1]", 15},
        {"<a@[IPv6:::1]>", false, "a@[IPv6:::1]", "a", "[IPv6:::1]", 14},
        {"<a@[x-tag:stuff]>", false, "a@[x-tag:stuff]", "a", "[x-tag:stuff]", 17},
        {"<a@localhost>", false, "a@localhost", "a", "localhost", 13},
        {"<a@1.example>", false, "a@1.example", "a", "1.example", 13},
        {"<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8>", true,
         "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8",
         "\xe7\x94\xa8\xe6\x88\xb7", "\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", 22},
        {"<\"\xc3\xa9 x\"@b.example>", true, "\"\xc3\xa9 x\"@b.example", "\"\xc3\xa9 x\"", "b.example", 18},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto r = parse_path(c.text, false, c.utf8_allowed);
        REQUIRE(r.ok());
        CHECK(r.address == c.address);
        CHECK(r.local_part == c.local);
        CHECK(r.domain == c.domain);
        CHECK(r.consumed == c.consumed);
        CHECK(r.utf8 == c.utf8_allowed);
    }
}

TEST_CASE("null path") {
    auto r = parse_path("<>", true, false);
    CHECK(r.ok());
    CHECK(r.null_path);
    CHECK(r.address.empty());
    CHECK(parse_path("<>", false, false).error == AddressError::syntax);
    CHECK(parse_path("<> SIZE=1", true, false).consumed == 2);
}

TEST_CASE("invalid paths") {
    struct Case {
        std::string text;
        AddressError error;
    };
    const std::vector<Case> cases = {
        {"", AddressError::syntax},
        {"<", AddressError::syntax},
        {"<a@b.example", AddressError::syntax},
        {"a@b.example>", AddressError::syntax},
        {"<a>", AddressError::syntax},
        {"<@b.example>", AddressError::syntax},
        {"<a@>", AddressError::syntax},
        {"<a@@b.example>", AddressError::syntax},
        {"<a.@b.example>", AddressError::syntax},
        {"<a@b.example.>", AddressError::syntax},
        {"<a@.b.example>", AddressError::syntax},
        {"<a@b_c.example>", AddressError::syntax},
        {"<a@" + std::string(64, 'x') + ".example>", AddressError::syntax},
        {"<\"unterminated@b.example>", AddressError::syntax},
        {"<\"bad\\\x01\"@b.example>", AddressError::syntax},
        {"<\"tab\there\"@b.example>", AddressError::syntax},
        {"<a@[1.2.3]>", AddressError::syntax},
        {"<a@[01.2.3.4]>", AddressError::syntax},
        {"<a@[1.2.3.4.5]>", AddressError::syntax},
        {"<a@[IPv6:1]>", AddressError::syntax},
        {"<a@[]>", AddressError::syntax},
        {"<a@[1.2.3.4>", AddressError::syntax},
        {"<@r.example a@b.example>", AddressError::syntax},
        {"<@r.example,a@b.example>", AddressError::syntax},
        {"<a@b.example>", AddressError::none},
        {"<" + std::string(260, 'a') + "@b.example>", AddressError::too_long},
        {"<\xc3\xa9@b.example>", AddressError::non_ascii},
        {"<\xc3@b.example>", AddressError::bad_utf8},
        {"<\xed\xa0\x80@b.example>", AddressError::bad_utf8},  // UTF-16 surrogate
        {"<\xc0\xaf@b.example>", AddressError::bad_utf8},      // overlong
        {"<a@b\xff.example>", AddressError::bad_utf8},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_path(c.text, false, false).error == c.error);
    }
}

TEST_CASE("path length limit counts the brackets, written or not") {
    const std::string local254 = std::string(254 - 10, 'a') + "@b.example";  // 254 octets
    REQUIRE(local254.size() == 254);
    CHECK(parse_path("<" + local254 + ">", false, false).ok());
    CHECK(parse_path(local254, false, false).ok());
    CHECK(parse_path("<a" + local254 + ">", false, false).error == AddressError::too_long);
    CHECK(parse_path("a" + local254, false, false).error == AddressError::too_long);
    CHECK(parse_mailbox("a" + local254, false).error == AddressError::too_long);
}

TEST_CASE("parse_mailbox needs the whole text") {
    CHECK(parse_mailbox("a@b.example", false).ok());
    CHECK_FALSE(parse_mailbox("a@b.example x", false).ok());
    CHECK_FALSE(parse_mailbox("<a@b.example>", false).ok());
}

TEST_CASE("utf8 validation") {
    CHECK(is_valid_utf8("plain"));
    CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xe0\x80\x80"));      // overlong
    CHECK_FALSE(is_valid_utf8("\x80"));
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
}
