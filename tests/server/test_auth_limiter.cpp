// server/auth_limiter: password-guessing limits across connections, driven by
// a manual clock (time is a parameter). Covers the source block and its
// expiry, IPv6 /64 grouping, the hot-username rule (a clean source still
// gets checked), the per-source in-flight cap, the growing delay, and the
// bound on tracked keys.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "server/auth_limiter.hpp"
#include "server/client_source.hpp"

using rp::server::AuthLimiter;
using rp::server::client_source;
using Verdict = AuthLimiter::Verdict;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    AuthLimiter::Limits limits;
    AuthLimiter limiter;
    AuthLimiter::Clock::time_point now{std::chrono::hours(1000)};

    explicit Fixture(AuthLimiter::Limits l = {}) : limits(l), limiter(l) {}

    // One complete attempt: admitted, then the check's outcome recorded.
    Verdict attempt(const std::string& source, const std::string& user, bool ok) {
        Verdict v = limiter.admit(source, user, now);
        if (v == Verdict::check) limiter.finished(source, user, ok, true, now);
        return v;
    }
    void fail(const std::string& source, const std::string& user, int times) {
        for (int i = 0; i < times; ++i) REQUIRE(attempt(source, user, false) == Verdict::check);
    }
};

}  // namespace

TEST_CASE("source keys: IPv4 as is, mapped IPv4 unwrapped, IPv6 per /64") {
    CHECK(client_source("192.0.2.7") == "192.0.2.7");
    CHECK(client_source("::ffff:192.0.2.7") == "192.0.2.7");
    CHECK(client_source("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
    CHECK(client_source("2001:db8:1:2::99") == "2001:db8:1:2::/64");
    CHECK(client_source("2001:db8:1:3::1") == "2001:db8:1:3::/64");
    CHECK(client_source("unknown") == "unknown");
}

TEST_CASE("a source is blocked at source_block failures, across usernames, until block_time passes") {
    Fixture f;
    for (int i = 0; i < 9; ++i)
        REQUIRE(f.attempt("192.0.2.1", "user" + std::to_string(i), false) == Verdict::check);
    CHECK(f.attempt("192.0.2.1", "x", false) == Verdict::check);  // the 10th is checked, then blocks
    CHECK(f.attempt("192.0.2.1", "demo", true) == Verdict::refuse);
    CHECK(f.attempt("192.0.2.2", "demo", true) == Verdict::check);  // another address is unaffected
    f.now += f.limits.block_time - 1s;
    CHECK(f.attempt("192.0.2.1", "demo", true) == Verdict::refuse);
    f.now += 2s;
    CHECK(f.attempt("192.0.2.1", "demo", true) == Verdict::check);
}

TEST_CASE("every address of one IPv6 /64 counts as one source") {
    Fixture f;
    for (int i = 0; i < 10; ++i) {
        auto key = client_source("2001:db8:0:1::" + std::to_string(i + 1));
        REQUIRE(f.attempt(key, "demo", false) == Verdict::check);
    }
    CHECK(f.attempt(client_source("2001:db8:0:1:ffff::1"), "demo", true) == Verdict::refuse);
    CHECK(f.attempt(client_source("2001:db8:0:2::1"), "demo", true) == Verdict::check);
}

TEST_CASE("failures leak away: a slow guesser is never blocked") {
    Fixture f;
    for (int i = 0; i < 100; ++i) {
        REQUIRE(f.attempt("192.0.2.1", "demo", false) == Verdict::check);
        f.now += f.limits.leak;  // one failure forgotten per leak interval
    }
}

TEST_CASE("a hot username refuses sources that failed, and still checks a clean one") {
    AuthLimiter::Limits l;
    l.user_hot = 6;
    Fixture f(l);
    // Three sources, two failures each: none is near its own block.
    for (const char* s : {"198.51.100.1", "198.51.100.2", "198.51.100.3"}) f.fail(s, "demo", 2);
    CHECK(f.attempt("198.51.100.1", "demo", false) == Verdict::refuse);
    CHECK(f.attempt("198.51.100.1", "other", false) == Verdict::check);  // only the hot name
    CHECK(f.attempt("203.0.113.5", "demo", true) == Verdict::check);     // the real user gets in
    // The name cools down as its failures leak away.
    f.now += l.leak * 7;
    CHECK(f.attempt("198.51.100.2", "demo", true) == Verdict::check);
}

TEST_CASE("a source without failures gets the larger share (a connection pool opening at once)") {
    Fixture f;
    for (unsigned i = 0; i < f.limits.max_in_flight_clean; ++i)
        REQUIRE(f.limiter.admit("192.0.2.7", "demo", f.now) == Verdict::check);
    CHECK(f.limiter.admit("192.0.2.7", "demo", f.now) == Verdict::busy);
}

TEST_CASE("at most max_in_flight checks per failing source; others are not affected") {
    Fixture f;
    REQUIRE(f.limiter.admit("192.0.2.1", "demo", f.now) == Verdict::check);
    f.limiter.finished("192.0.2.1", "demo", false, true, f.now);  // one failure: now a guessing source
    for (unsigned i = 0; i < f.limits.max_in_flight; ++i)
        REQUIRE(f.limiter.admit("192.0.2.1", "demo", f.now) == Verdict::check);
    CHECK(f.limiter.admit("192.0.2.1", "demo", f.now) == Verdict::busy);
    CHECK(f.limiter.admit("192.0.2.9", "demo", f.now) == Verdict::check);
    f.limiter.finished("192.0.2.1", "demo", false, true, f.now);
    CHECK(f.limiter.admit("192.0.2.1", "demo", f.now) == Verdict::check);
}

TEST_CASE("a check that did not run (queue full) is not counted") {
    Fixture f;
    for (int i = 0; i < 50; ++i) {
        REQUIRE(f.limiter.admit("192.0.2.1", "demo", f.now) == Verdict::check);
        f.limiter.finished("192.0.2.1", "demo", false, false, f.now);
    }
    CHECK(f.attempt("192.0.2.1", "demo", true) == Verdict::check);
    CHECK(f.limiter.failure_delay("192.0.2.1", 2000ms, f.now) == 2000ms);
}

TEST_CASE("the failure delay grows with the source's failures, at most 8 x base") {
    Fixture f;
    const auto base = 500ms;
    CHECK(f.limiter.failure_delay("192.0.2.1", base, f.now) == base);
    f.fail("192.0.2.1", "demo", 3);
    CHECK(f.limiter.failure_delay("192.0.2.1", base, f.now) == base);
    f.fail("192.0.2.1", "demo", 1);
    CHECK(f.limiter.failure_delay("192.0.2.1", base, f.now) == 2 * base);
    f.fail("192.0.2.1", "demo", 1);
    CHECK(f.limiter.failure_delay("192.0.2.1", base, f.now) == 4 * base);
    f.fail("192.0.2.1", "demo", 3);
    CHECK(f.limiter.failure_delay("192.0.2.1", base, f.now) == 8 * base);
}

TEST_CASE("tracked keys are bounded; the least recently used go first") {
    AuthLimiter::Limits l;
    l.max_sources = 100;
    l.max_users = 10;
    Fixture f(l);
    for (int i = 0; i < 5000; ++i) {
        std::string source = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        f.attempt(source, "guess" + std::to_string(i), false);
        CHECK(f.limiter.tracked_sources() <= 100);
        CHECK(f.limiter.tracked_users() <= 10);
    }
    // A username longer than the key bound counts as its prefix (bounded key size).
    std::string longname(10000, 'a');
    f.fail("192.0.2.1", longname, 1);
    CHECK(f.limiter.tracked_users() <= 10);
}
