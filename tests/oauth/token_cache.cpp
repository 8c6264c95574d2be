// The token cache's decisions with a manual clock: reuse, renewal ahead of
// expiry (old token kept while renewing), single flight, backoff after
// temporary failures, refusals remembered briefly, drop after a 535.
#include "oauth/token_cache.hpp"

#include <doctest/doctest.h>

using namespace rp::oauth;
using namespace std::chrono_literals;
using Action = TokenCache::Action;

namespace {

TokenReply token(const std::string& value, std::chrono::seconds lifetime = 3600s) {
    TokenReply r;
    r.failure = TokenFailure::none;
    r.access_token = value;
    r.lifetime = lifetime;
    return r;
}

TokenReply temporary() {
    return unreachable("connect: connection refused");
}

TokenReply refused() {
    TokenReply r;
    r.failure = TokenFailure::denied;
    r.error = "unauthorized_client";
    return r;
}

}  // namespace

TEST_CASE("token cache: first use fetches, then the token is reused until its renewal time") {
    rp::ManualClock clock;
    TokenCache cache;
    auto d = cache.acquire("a@x", clock.now());
    CHECK(d.action == Action::fetch);
    CHECK(d.token.empty());
    cache.complete("a@x", token("t1"), clock.now());
    CHECK(cache.acquire("a@x", clock.now()).action == Action::use);
    CHECK(cache.acquire("a@x", clock.now()).token == "t1");
    clock.advance(3600s - 300s - 1s);  // just before renewal (5 minutes ahead)
    CHECK(cache.acquire("a@x", clock.now()).token == "t1");
    CHECK(cache.age("a@x", clock.now()) == 3299s);
    clock.advance(1s);
    d = cache.acquire("a@x", clock.now());
    CHECK(d.action == Action::fetch);
    CHECK(d.token == "t1");  // still valid: the caller may fall back on it
    SUBCASE("other sends keep using the old token while the renewal runs") {
        CHECK(cache.acquire("a@x", clock.now()).action == Action::use);
        CHECK(cache.acquire("a@x", clock.now()).token == "t1");
        cache.complete("a@x", token("t2"), clock.now());
        CHECK(cache.acquire("a@x", clock.now()).token == "t2");
        CHECK(cache.age("a@x", clock.now()) == 0s);
    }
    SUBCASE("a failed renewal keeps the old token, also while the fetches back off") {
        cache.complete("a@x", temporary(), clock.now());
        clock.advance(1s);  // within the 5 s backoff: no fetch, the old token
        auto d = cache.acquire("a@x", clock.now());
        CHECK(d.action == Action::use);
        CHECK(d.token == "t1");
        clock.advance(10s);  // backoff over: fetch again, the old token as fallback
        d = cache.acquire("a@x", clock.now());
        CHECK(d.action == Action::fetch);
        CHECK(d.token == "t1");
        cache.complete("a@x", temporary(), clock.now());
        clock.advance(1s);  // backing off (10 s now): the old token
        CHECK(cache.acquire("a@x", clock.now()).token == "t1");
        clock.advance(300s - 12s - 30s);  // 30 s before expiry: too late to start a session with it
        d = cache.acquire("a@x", clock.now());
        CHECK(d.action == Action::fetch);
        CHECK(d.token.empty());  // no fallback any more
        cache.complete("a@x", temporary(), clock.now());
        d = cache.acquire("a@x", clock.now());
        CHECK(d.action == Action::fail);  // backing off and nothing usable: the mail waits
        CHECK(d.failure.failure == TokenFailure::unavailable);
    }
}

TEST_CASE("token cache: short-lived tokens are renewed after three quarters of their life") {
    rp::ManualClock clock;
    TokenCache cache;
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", token("t1", 80s), clock.now());
    clock.advance(59s);
    CHECK(cache.acquire("a@x", clock.now()).action == Action::use);
    clock.advance(1s);
    CHECK(cache.acquire("a@x", clock.now()).action == Action::fetch);
}

TEST_CASE("token cache: single flight per account; other accounts are independent") {
    rp::ManualClock clock;
    TokenCache cache;
    CHECK(cache.acquire("a@x", clock.now()).action == Action::fetch);
    CHECK(cache.fetching("a@x"));
    CHECK(cache.acquire("a@x", clock.now()).action == Action::wait);
    CHECK(cache.acquire("a@x", clock.now()).action == Action::wait);
    CHECK(cache.acquire("b@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", token("ta"), clock.now());
    CHECK_FALSE(cache.fetching("a@x"));
    CHECK(cache.acquire("a@x", clock.now()).token == "ta");
    CHECK(cache.acquire("b@x", clock.now()).action == Action::wait);
}

TEST_CASE("token cache: temporary failures back off, doubling to five minutes") {
    rp::ManualClock clock;
    TokenCache cache;
    std::chrono::seconds expected[] = {5s, 10s, 20s, 40s, 80s, 160s, 300s, 300s};
    for (auto delay : expected) {
        CAPTURE(delay.count());
        REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
        cache.complete("a@x", temporary(), clock.now());
        clock.advance(delay - 1s);
        auto d = cache.acquire("a@x", clock.now());
        CHECK(d.action == Action::fail);
        CHECK(d.failure.failure == TokenFailure::unavailable);
        CHECK(d.failure.error == "connect: connection refused");
        clock.advance(1s);
    }
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", token("t"), clock.now());  // success resets the backoff
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::use);
    cache.drop("a@x", "t");
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", temporary(), clock.now());
    clock.advance(5s);
    CHECK(cache.acquire("a@x", clock.now()).action == Action::fetch);
}

TEST_CASE("token cache: a refusal is remembered briefly, then asked again (after a resume)") {
    rp::ManualClock clock;
    TokenCache cache;
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", refused(), clock.now());
    auto d = cache.acquire("a@x", clock.now());
    CHECK(d.action == Action::fail);
    CHECK(d.failure.failure == TokenFailure::denied);
    CHECK(d.failure.error == "unauthorized_client");
    clock.advance(30s);
    CHECK(cache.acquire("a@x", clock.now()).action == Action::fetch);
}

TEST_CASE("token cache: drop forgets the refused token only") {
    rp::ManualClock clock;
    TokenCache cache;
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", token("t1"), clock.now());
    cache.drop("a@x", "an older token");  // already replaced: nothing happens
    CHECK(cache.acquire("a@x", clock.now()).token == "t1");
    cache.drop("a@x", "t1");
    CHECK(cache.acquire("a@x", clock.now()).action == Action::fetch);
    CHECK_FALSE(cache.age("a@x", clock.now()));
    cache.drop("unknown@x", "t");  // no entry: no effect
}

TEST_CASE("token cache: an expired token has no age (a disabled account keeps its last one)") {
    rp::ManualClock clock;
    TokenCache cache;
    REQUIRE(cache.acquire("a@x", clock.now()).action == Action::fetch);
    cache.complete("a@x", token("t1"), clock.now());
    clock.advance(3000s);
    CHECK(cache.age("a@x", clock.now()) == 3000s);
    clock.advance(600s);  // expires_in 3600: past it
    CHECK_FALSE(cache.age("a@x", clock.now()));
}
