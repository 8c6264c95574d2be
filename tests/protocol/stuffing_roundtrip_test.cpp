// Property test of the outgoing message path (the same check as the fuzz
// target fuzz_stuffing_roundtrip, tests/fuzz/stuffing_roundtrip.hpp): on
// 20,000 generated messages built from the pieces that matter (line ends of
// every kind, dots, the header names the filter acts on), MessageFilter then
// DotStuffer unstuffs to the filter's output exactly and puts no bare CR or
// LF on the wire, for every filter option and piece size. Deterministic (a
// fixed-seed generator), so a failure names the case to replay.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "tests/fuzz/stuffing_roundtrip.hpp"

namespace {

// xorshift64*: small, deterministic across platforms.
struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ULL;
    }
};

std::string message(Rng& rng) {
    static const char* const pieces[] = {"\r\n",        "\r",          "\n",
                                         ".",           "..",          "\r\n.\r\n",
                                         "\n.\r\n",     "\r.\r",       "From: \"N\" <a@b>",
                                         "Received: x", "X-Mailer: m", "Reply-To: r",
                                         ":",           " ",           "\t",
                                         "a",           "body text",   "\r\n\r\n"};
    std::string m;
    const std::size_t n = rng.next() % 24;
    for (std::size_t i = 0; i < n; ++i) m += pieces[rng.next() % (sizeof pieces / sizeof pieces[0])];
    return m;
}

}  // namespace

TEST_CASE("stuffing round trip: filter + stuff + unstuff is the identity, CRLF-only on the wire") {
    Rng rng{0x5eed18};
    for (int i = 0; i < 20000; ++i) {
        const std::string m = message(rng);
        const unsigned knobs = static_cast<unsigned>(rng.next() & 0xff);
        const std::string why = rp::fuzz::check_stuffing_roundtrip(m, knobs);
        INFO("case ", i, " knobs ", knobs, " message of ", m.size(), " bytes");
        REQUIRE(why == "");
    }
}

TEST_CASE("stuffing round trip: the check itself catches a bare LF and an early end of data") {
    CHECK(rp::fuzz::check_wire("a\n.\r\n", "a\r\n") == "bare CR or LF on the wire");
    CHECK(rp::fuzz::check_wire("a\r\n.\r\nb\r\n.\r\n", "a\r\n") == "end of data before the end");
    CHECK(rp::fuzz::check_wire("a\r\n.\r\n", "b\r\n") == "unstuff(stuff(m)) != m");
    CHECK(rp::fuzz::check_wire("..\r\n.\r\n", ".\r\n") == "");
}
