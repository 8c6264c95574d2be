// LineEndNormalizer (BDAT content): a table of inputs and their stored form,
// each checked for every split into two and three feed() calls (a CRLF or a
// bare CR may straddle chunk edges), and no bare CR or LF ever comes out.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/line_ends.hpp"

using rp::protocol::LineEndNormalizer;

namespace {

struct Case {
    std::string input;
    std::string output;
};

std::string run(const std::vector<std::string_view>& pieces) {
    LineEndNormalizer n;
    std::string out;
    for (auto p : pieces) n.feed(p, out);
    n.finish(out);
    return out;
}

bool has_bare_cr_or_lf(const std::string& s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return true;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("BDAT line ends: bare CR and bare LF become CRLF for every split") {
    const std::vector<Case> cases = {
        {"", ""},
        {"plain", "plain"},
        {"a\r\nb\r\n", "a\r\nb\r\n"},
        {"bare\rcr", "bare\r\ncr"},
        {"bare\nlf", "bare\r\nlf"},
        {"\r", "\r\n"},
        {"\n", "\r\n"},
        {"\r\r\n", "\r\n\r\n"},
        {"\n\r", "\r\n\r\n"},
        {"\r\r", "\r\n\r\n"},
        {"\n\n", "\r\n\r\n"},
        {"x\r.\r\n", "x\r\n.\r\n"},  // a smuggled end of data becomes a plain dot line
        {"end\r", "end\r\n"},
        {"mixed\r\n\r\r\n\n\rz", "mixed\r\n\r\n\r\n\r\n\r\nz"},
        {std::string("nul\0\r", 5), std::string("nul\0\r\n", 6)},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input);
        CHECK(run({c.input}) == c.output);
        CHECK_FALSE(has_bare_cr_or_lf(c.output));
        const std::string_view in = c.input;
        for (std::size_t i = 0; i <= in.size(); ++i) {
            CHECK(run({in.substr(0, i), in.substr(i)}) == c.output);
            for (std::size_t j = i; j <= in.size(); ++j)
                CHECK(run({in.substr(0, i), in.substr(i, j - i), in.substr(j)}) == c.output);
        }
    }
}

TEST_CASE("BDAT line ends: a CR at the end of a call waits for the next byte") {
    LineEndNormalizer n;
    std::string out;
    n.feed("a\r", out);
    CHECK(out == "a");
    CHECK(n.pending_cr());
    n.feed("\nb", out);
    CHECK(out == "a\r\nb");
    CHECK_FALSE(n.pending_cr());
    n.feed("\r", out);
    n.reset();  // RSET mid-message: the pending CR belonged to the dropped message
    n.finish(out);
    CHECK(out == "a\r\nb");
}
