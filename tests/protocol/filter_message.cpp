// MessageFilter (strip_headers, From rewrite) and DotStuffer: expected
// outputs as literals, the same output for every split of the input, and the
// dot-stuffing round trip through the server's DataReader.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/data_reader.hpp"
#include "protocol/message_filter.hpp"

using namespace rp::protocol;

namespace {

// Feeds `in` in three pieces [0,a) [a,b) [b,end).
std::string filter_split(const std::string& in, const MessageFilterOptions& opt, std::size_t a,
                         std::size_t b) {
    MessageFilter f(opt);
    std::string out;
    f.feed(std::string_view(in).substr(0, a), out);
    f.feed(std::string_view(in).substr(a, b - a), out);
    f.feed(std::string_view(in).substr(b), out);
    f.finish(out);
    return out;
}

std::string stuff_split(const std::string& in, std::size_t a, std::size_t b) {
    DotStuffer s;
    std::string out;
    s.feed(std::string_view(in).substr(0, a), out);
    s.feed(std::string_view(in).substr(a, b - a), out);
    s.feed(std::string_view(in).substr(b), out);
    s.finish(out);
    return out;
}

MessageFilterOptions relay_options() {
    MessageFilterOptions o;
    o.strip_headers = {"Received", "X-Originating-IP"};
    o.rewrite_from_to = "reminders01@agency.example";
    return o;
}

const std::string message =
    "Received: from app.example ([198.51.100.4])\r\n"
    "\tby relay.example.com with ESMTPSA id ABC;\r\n"
    "\tWed, 25 Nov 2026 19:06:27 +0000\r\n"
    "From: \"Billing Team\" <billing@shop.example>\r\n"
    "x-originating-ip: [198.51.100.4]\r\n"
    "To: alice@example.org\r\n"
    "Subject: =?UTF-8?B?w6TDtsO8?= caf\xc3\xa9\r\n"
    "RECEIVED: by another hop\r\n"
    "\r\n"
    "Received: this is body text and stays\r\n"
    ".leading dot\r\n"
    "From: also body\r\n"
    "8-bit: \xe2\x82\xac\r\n";

const std::string expected =
    "From: \"Billing Team\" <reminders01@agency.example>\r\n"
    "Reply-To: \"Billing Team\" <billing@shop.example>\r\n"
    "To: alice@example.org\r\n"
    "Subject: =?UTF-8?B?w6TDtsO8?= caf\xc3\xa9\r\n"
    "\r\n"
    "Received: this is body text and stays\r\n"
    ".leading dot\r\n"
    "From: also body\r\n"
    "8-bit: \xe2\x82\xac\r\n";

}  // namespace

TEST_CASE("filter: strip + From rewrite + Reply-To, body untouched") {
    CHECK(filter_message(message, relay_options()) == expected);
}

TEST_CASE("filter: the same output for every split into three pieces") {
    const auto opt = relay_options();
    for (std::size_t a = 0; a <= message.size(); ++a) {
        for (std::size_t b = a; b <= message.size(); b += 7) {
            CAPTURE(a);
            CAPTURE(b);
            REQUIRE(filter_split(message, opt, a, b) == expected);
        }
    }
}

TEST_CASE("filter: table of header cases") {
    struct Case {
        const char* name;
        std::string in;
        std::string out;
    };
    const std::vector<Case> cases = {
        {"existing Reply-To is kept", "From: a@b\r\nReply-To: r@b\r\n\r\nbody\r\n",
         "From: reminders01@agency.example\r\nReply-To: r@b\r\n\r\nbody\r\n"},
        {"bare address From", "Subject: x\r\nFrom: a@b\r\n\r\n",
         "Subject: x\r\nFrom: reminders01@agency.example\r\nReply-To: a@b\r\n\r\n"},
        {"angle address without display name", "From: <a@b>\r\n\r\nx",
         "From: <reminders01@agency.example>\r\nReply-To: <a@b>\r\n\r\nx"},
        {"folded From keeps its folding in Reply-To", "From: \"Very Long Name\"\r\n <a@b>\r\nTo: c@d\r\n\r\n",
         "From: \"Very Long Name\" <reminders01@agency.example>\r\nReply-To: \"Very Long Name\"\r\n "
         "<a@b>\r\nTo: "
         "c@d\r\n\r\n"},
        {"no From: nothing added", "To: c@d\r\n\r\nbody", "To: c@d\r\n\r\nbody"},
        {"headers only, no empty line", "Received: x\r\nFrom: a@b\r\nSubject: s",
         "From: reminders01@agency.example\r\nReply-To: a@b\r\nSubject: s"},
        {"LF line ends", "Received: x\nFrom: a@b\nSubject: s\n\nReceived: body\n",
         "From: reminders01@agency.example\nReply-To: a@b\nSubject: s\n\nReceived: body\n"},
        {"name prefix is not a match", "Received-SPF: pass\r\nX-Received: y\r\n\r\n",
         "Received-SPF: pass\r\nX-Received: y\r\n\r\n"},
        {"space before the colon still matches", "Received : x\r\n\r\n", "\r\n"},
        {"From already the account: no Reply-To", "From: Me <Reminders01@Agency.example>\r\n\r\n",
         "From: Me <reminders01@agency.example>\r\n\r\n"},
        {"empty message", "", ""},
        {"message starting with an empty line", "\r\nFrom: body\r\n", "\r\nFrom: body\r\n"},
        // A bare CR ends a line here as it does for the upstream (the
        // DotStuffer sends it as CRLF): the filter sees the same fields.
        {"bare CR separates fields", "Subject: x\rReceived: hidden\r\nFrom: a@b\r\n\r\nb",
         "Subject: x\rFrom: reminders01@agency.example\r\nReply-To: a@b\r\n\r\nb"},
        {"bare CR ends a From field", "From: a@b\rTo: c@d\r\n\r\n",
         "From: reminders01@agency.example\nReply-To: a@b\r\nTo: c@d\r\n\r\n"},
        {"bare CR then CRLF is an empty line: the header block ends", "Subject: x\r\r\nReceived: body\r\n",
         "Subject: x\r\r\nReceived: body\r\n"},
        {"bare CR empty line", "Received: x\r\rFrom: body\r\n", "\rFrom: body\r\n"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(filter_message(c.in, relay_options()) == c.out);
        for (std::size_t a = 0; a <= c.in.size(); ++a)
            REQUIRE(filter_split(c.in, relay_options(), a, a) == c.out);
    }
}

TEST_CASE("filter: strip only, no rewrite") {
    MessageFilterOptions o;
    o.strip_headers = {"received"};
    CHECK(filter_message("Received: a\r\n b\r\nFrom: x@y\r\n\r\nz", o) == "From: x@y\r\n\r\nz");
}

TEST_CASE("filter: no options is an exact copy (8-bit, long lines, no final CRLF)") {
    MessageFilterOptions none;
    CHECK(MessageFilter(none).passthrough());
    std::string m = "Received: kept\r\n\r\n" + std::string(998, 'x') + "\r\n\xff\xfe\x00 tail";
    m.push_back('\0');
    CHECK(filter_message(m, none) == m);
}

TEST_CASE("filter: an oversized header block passes unchanged") {
    MessageFilterOptions o = relay_options();
    o.max_header_bytes = 64;
    std::string m = "Received: " + std::string(100, 'r') + "\r\nFrom: a@b\r\n\r\nbody\r\n";
    CHECK(filter_message(m, o) == m);
}

TEST_CASE("dot-stuffing: literal cases") {
    struct Case {
        std::string in;
        std::string out;
    };
    const std::vector<Case> cases = {
        {"", ".\r\n"},
        {"a\r\n", "a\r\n.\r\n"},
        {".\r\n", "..\r\n.\r\n"},
        {"..x\r\n.y", "...x\r\n..y\r\n.\r\n"},
        {"no final line end", "no final line end\r\n.\r\n"},
        {"a\r\n.", "a\r\n..\r\n.\r\n"},
        {"mid.dot\r\n", "mid.dot\r\n.\r\n"},
        // Bare CR / bare LF go out as CRLF (RFC 5321 2.3.8), dots after them stuffed.
        {"lf\n.x\n", "lf\r\n..x\r\n.\r\n"},
        {"cr only\r", "cr only\r\n.\r\n"},
        {"\r", "\r\n.\r\n"},
        {"\n", "\r\n.\r\n"},
        {"a\r\rb", "a\r\n\r\nb\r\n.\r\n"},
        {"a\n\rb", "a\r\n\r\nb\r\n.\r\n"},
        {"a\r\n\r\nb", "a\r\n\r\nb\r\n.\r\n"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(dot_stuff(c.in) == c.out);
        for (std::size_t a = 0; a <= c.in.size(); ++a)
            for (std::size_t b = a; b <= c.in.size(); ++b) REQUIRE(stuff_split(c.in, a, b) == c.out);
    }
}

TEST_CASE("dot-stuffing round-trips through the server's DataReader") {
    const std::vector<std::string> messages = {
        "",
        "Subject: x\r\n\r\n.\r\n..\r\n...\r\n. \r\n",
        "From: a@b\r\n\r\nUTF-8 \xc3\xa9\xe2\x82\xac and 8-bit \xff\r\n.end\r\n",
        "line\r\n" + std::string(998, '.') + "\r\nlast",
        ".\r\n.\r\n",
        "no CRLF at all",
    };
    for (const auto& m : messages) {
        CAPTURE(m.substr(0, 40));
        const std::string stuffed = dot_stuff(m);
        for (std::size_t cut : {std::size_t{0}, stuffed.size() / 3, stuffed.size() / 2, stuffed.size()}) {
            DataReader reader;
            std::string content;
            std::size_t used = reader.feed(std::string_view(stuffed).substr(0, cut), content);
            used += reader.feed(std::string_view(stuffed).substr(used), content);
            CHECK(reader.done());
            CHECK(used == stuffed.size());
            const bool ends_crlf = m.size() >= 2 && m.substr(m.size() - 2) == "\r\n";
            CHECK(content == (m.empty() || ends_crlf ? m : m + "\r\n"));
        }
    }
}

namespace {

// How a lenient upstream could read a DATA stream: CRLF, a bare CR and a bare
// LF all end a line, and a line that is exactly "." ends the data. Returns
// the offset just past the first such end (npos when there is none).
std::size_t lenient_end_of_data(std::string_view s) {
    std::size_t line = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\r' && s[i] != '\n') continue;
        const std::size_t next = (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? i + 2 : i + 1;
        if (s.substr(line, i - line) == ".") return next;
        line = next;
        i = next - 1;
    }
    return std::string_view::npos;
}

// What a strict reader keeps of a stuffed (CRLF-only) stream: one leading dot
// less on every line that starts with one.
std::string unstuffed(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool line_start = i == 0 || (i >= 2 && s[i - 2] == '\r' && s[i - 1] == '\n');
        if (!(line_start && s[i] == '.')) out.push_back(s[i]);
    }
    return out;
}

bool has_bare_cr_or_lf(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("dot-stuffing: smuggling sequences never end the data, for any reader, at any split") {
    // Each row: stored message bytes -> what goes to the upstream (before the
    // terminator). The smuggled "MAIL FROM" must stay content.
    struct Case {
        std::string in;
        std::string out;
    };
    const std::string cmd = "MAIL FROM:<evil@example.org>\r\n";
    const std::vector<Case> cases = {
        {"x\r.\r\n" + cmd, "x\r\n..\r\n" + cmd},
        {"x\n.\r\n" + cmd, "x\r\n..\r\n" + cmd},
        {"x\r\n.\r" + cmd, "x\r\n..\r\n" + cmd},
        {"x\r\n.\r", "x\r\n..\r\n"},
        {"x\r.\r" + cmd, "x\r\n..\r\n" + cmd},
        {"x\n.\n" + cmd, "x\r\n..\r\n" + cmd},
        {"x\r.\n" + cmd, "x\r\n..\r\n" + cmd},
        {"x\r\n.\n" + cmd, "x\r\n..\r\n" + cmd},
        {"x\r\n.\r.\r\n" + cmd, "x\r\n..\r\n..\r\n" + cmd},
        {"\r.\r\n", "\r\n..\r\n"},
        {".\r", "..\r\n"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        const std::string want = c.out + ".\r\n";
        CHECK(dot_stuff(c.in) == want);
        for (std::size_t a = 0; a <= c.in.size(); ++a) {
            for (std::size_t b = a; b <= c.in.size(); ++b) {
                const std::string got = stuff_split(c.in, a, b);
                REQUIRE(got == want);
            }
        }
        CHECK_FALSE(has_bare_cr_or_lf(want));
        // A lenient reader finds the end only at the real terminator...
        CHECK(lenient_end_of_data("\r\n" + want) == want.size() + 2);
        // ...and so does the strict one (RFC 5321 4.1.1.4), unstuffing exactly.
        DataReader reader;
        std::string content;
        CHECK(reader.feed(want, content) == want.size());
        CHECK(reader.done());
        CHECK(content == unstuffed(c.out));
    }
}
