// DataReader: end-of-data detection and dot-unstuffing must give the same
// result for EVERY way of splitting the input into two or three feeds, and
// SMTP smuggling variants must never end the data.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/data_reader.hpp"

using namespace rp::protocol;

namespace {

struct Outcome {
    std::string content;
    bool done = false;
    std::size_t consumed = 0;
    bool operator==(const Outcome&) const = default;
};

Outcome run(const std::vector<std::string_view>& pieces) {
    DataReader r;
    Outcome o;
    for (auto p : pieces) {
        if (r.done()) break;
        o.consumed += r.feed(p, o.content);
    }
    o.done = r.done();
    return o;
}

struct Case {
    std::string input;
    std::string content;  // expected output
    bool done;
    std::size_t consumed;  // expected consumed octets (== input size unless done early)
};

const std::vector<Case>& cases() {
    static const std::vector<Case> table = {
        {".\r\n", "", true, 3},
        {"Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", true, 23},
        {"a\r\n.\r\nQUIT\r\n", "a\r\n", true, 6},
        {"..leading dot\r\n.\r\n", ".leading dot\r\n", true, 18},
        {"...\r\n.\r\n", "..\r\n", true, 8},
        {"..\r\n.\r\n", ".\r\n", true, 7},
        {"a\r\n..\r\n.\r\n", "a\r\n.\r\n", true, 10},
        {"mid.dle\r\n.\r\n", "mid.dle\r\n", true, 12},
        {"bare\nlf\n.\r\n", "bare\r\nlf\r\n\r\n", false, 11},
        {"x\r\n.\n", "x\r\n\r\n", false, 5},
        // smuggling variants: none of them ends the data
        {"a\n.\nMAIL FROM:<x@y>\r\n", "a\r\n\r\nMAIL FROM:<x@y>\r\n", false, 21},
        {"a\r.\nb\r\n", "a\r\n\r\nb\r\n", false, 7},
        {"a\n.\r\nb\r\n", "a\r\n\r\nb\r\n", false, 8},
        {"a\r.\r\nb\r\n", "a\r\n\r\nb\r\n", false, 8},
        {"a\r\n.\rX\r\n", "a\r\n\r\nX\r\n", false, 8},
        {"a\r\n.\r\r\n.\r\n", "a\r\n\r\n\r\n", true, 10},
        {"bare\rcr\r\n.\r\n", "bare\r\ncr\r\n", true, 12},
        {"a\r\n \r\n.\r\n", "a\r\n \r\n", true, 9},
        {"\r\n.\r\n", "\r\n", true, 5},
        {"no end", "no end", false, 6},
        {"\n.\r\n", "\r\n\r\n", false, 4},
    };
    return table;
}

}  // namespace

TEST_CASE("data reader table, whole input") {
    for (const auto& c : cases()) {
        CAPTURE(c.input);
        auto o = run({c.input});
        CHECK(o.content == c.content);
        CHECK(o.done == c.done);
        CHECK(o.consumed == c.consumed);
    }
}

TEST_CASE("data reader: every split point gives the same result") {
    for (const auto& c : cases()) {
        const std::string_view in = c.input;
        const Outcome whole = run({in});
        for (std::size_t i = 0; i <= in.size(); ++i) {
            for (std::size_t j = i; j <= in.size(); ++j) {
                CAPTURE(c.input);
                CAPTURE(i);
                CAPTURE(j);
                auto o = run({in.substr(0, i), in.substr(i, j - i), in.substr(j)});
                REQUIRE(o == whole);
            }
        }
        // one byte at a time
        std::vector<std::string_view> bytes;
        for (std::size_t i = 0; i < in.size(); ++i) bytes.push_back(in.substr(i, 1));
        CHECK(run(bytes) == whole);
    }
}

TEST_CASE("data reader: long lines are accepted and measured") {
    std::string line(5000, 'x');
    DataReader r;
    std::string out;
    r.feed(line + "\r\n.\r\n", out);
    CHECK(r.done());
    CHECK(out == line + "\r\n");
    CHECK(r.longest_line() == 5000);
}

TEST_CASE("data reader: a large body with stuffed lines round-trips") {
    std::string body, wire;
    for (int i = 0; i < 2000; ++i) {
        std::string l = (i % 7 == 0 ? "." : "") +
                        std::string(static_cast<std::size_t>(i % 90), static_cast<char>('a' + i % 26));
        body += l + "\r\n";
        wire += (l.size() && l[0] == '.' ? "." : "") + l + "\r\n";
    }
    wire += ".\r\n";
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 1000u, 65536u}) {
        CAPTURE(chunk);
        std::vector<std::string_view> pieces;
        std::string_view w = wire;
        for (std::size_t i = 0; i < w.size(); i += chunk) pieces.push_back(w.substr(i, chunk));
        auto o = run(pieces);
        CHECK(o.done);
        CHECK(o.content == body);
        CHECK(o.consumed == wire.size());
    }
}
