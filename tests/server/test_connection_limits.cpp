// ConnectionLimits: total and per-address admission, RAII release, limits
// changed while connections are open (SIGHUP). Table-driven.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "server/connection_limits.hpp"

using rp::server::ConnectionLimits;

namespace {

struct Step {
    enum Kind { connect, per_address, release_last } kind;
    std::string address;
    bool admitted;
};

struct Case {
    const char* name;
    ConnectionLimits::Settings settings;
    std::vector<Step> steps;
};

}  // namespace

TEST_CASE("connection limits: admission table") {
    const std::vector<Case> cases = {
        {"total limit",
         {2, 50},
         {{Step::connect, "", true}, {Step::connect, "", true}, {Step::connect, "", false}}},
        {"release frees a total slot",
         {1, 50},
         {{Step::connect, "", true},
          {Step::connect, "", false},
          {Step::release_last, "", true},
          {Step::connect, "", true}}},
        {"per address",
         {100, 2},
         {{Step::per_address, "192.0.2.1", true},
          {Step::per_address, "192.0.2.1", true},
          {Step::per_address, "192.0.2.1", false},
          {Step::per_address, "192.0.2.2", true},
          {Step::per_address, "2001:db8::1", true}}},
        {"per address release",
         {100, 1},
         {{Step::per_address, "192.0.2.1", true},
          {Step::per_address, "192.0.2.1", false},
          {Step::release_last, "", true},
          {Step::per_address, "192.0.2.1", true}}},
        {"zero per address admits nobody", {100, 0}, {{Step::per_address, "192.0.2.1", false}}},
        {"empty address is a real key, not the total",
         {1, 1},
         {{Step::connect, "", true}, {Step::per_address, "", true}, {Step::per_address, "", false}}},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        auto limits = ConnectionLimits::create(c.settings);
        std::vector<ConnectionLimits::Slot> held;
        for (std::size_t i = 0; i < c.steps.size(); ++i) {
            CAPTURE(i);
            const auto& step = c.steps[i];
            if (step.kind == Step::release_last) {
                REQUIRE(!held.empty());
                held.pop_back();
                continue;
            }
            auto slot =
                step.kind == Step::connect ? limits->try_connection() : limits->try_address(step.address);
            CHECK(static_cast<bool>(slot) == step.admitted);
            if (slot) held.push_back(std::move(slot));
        }
    }
}

TEST_CASE("connection limits: counts follow slot lifetimes, moves transfer ownership") {
    auto limits = ConnectionLimits::create({10, 10});
    {
        auto a = limits->try_address("198.51.100.7");
        auto b = std::move(a);
        CHECK_FALSE(a);
        CHECK(b);
        CHECK(limits->connections_from("198.51.100.7") == 1);
        ConnectionLimits::Slot c;
        c = std::move(b);
        CHECK(limits->connections_from("198.51.100.7") == 1);
        auto t = limits->try_connection();
        CHECK(limits->connections() == 1);
        t.reset();
        CHECK(limits->connections() == 0);
    }
    CHECK(limits->connections_from("198.51.100.7") == 0);
}

TEST_CASE("connection limits: a lower limit stops new connections, keeps open ones") {
    auto limits = ConnectionLimits::create({3, 3});
    std::vector<ConnectionLimits::Slot> held;
    for (int i = 0; i < 3; ++i) held.push_back(limits->try_connection());
    limits->update({1, 1});
    CHECK(limits->connections() == 3);
    CHECK_FALSE(limits->try_connection());
    held.clear();
    CHECK(limits->try_connection());
}

TEST_CASE("connection limits: an IPv6 /64 is one client; IPv4-mapped counts as IPv4") {
    auto limits = ConnectionLimits::create({100, 2});
    auto a = limits->try_address("2001:db8:1:2::1");
    auto b = limits->try_address("2001:db8:1:2:ffff::7");  // a fresh address, same /64
    REQUIRE(a);
    REQUIRE(b);
    CHECK_FALSE(limits->try_address("2001:db8:1:2:1234::1"));
    CHECK(limits->connections_from("2001:db8:1:2::99") == 2);
    CHECK(limits->try_address("2001:db8:1:3::1"));  // the next /64 is someone else
    auto c = limits->try_address("192.0.2.1");
    auto d = limits->try_address("::ffff:192.0.2.1");
    REQUIRE(c);
    REQUIRE(d);
    CHECK_FALSE(limits->try_address("192.0.2.1"));
    a.reset();
    CHECK(limits->try_address("2001:db8:1:2::abcd"));
    // The operator's own hosts (trusted, a PROXY load balancer) count one by one.
    using Count = ConnectionLimits::Count;
    auto h1 = limits->try_address("2001:db8:9:9::1", Count::per_address);
    auto h2 = limits->try_address("2001:db8:9:9::1", Count::per_address);
    REQUIRE(h1);
    REQUIRE(h2);
    CHECK_FALSE(limits->try_address("2001:db8:9:9::1", Count::per_address));
    CHECK(limits->try_address("2001:db8:9:9::2", Count::per_address));
    CHECK(limits->connections_from("2001:db8:9:9::1", Count::per_address) == 2);
}

TEST_CASE("connection limits: slots outliving the limiter object stay valid") {
    ConnectionLimits::Slot slot;
    {
        auto limits = ConnectionLimits::create({1, 1});
        slot = limits->try_address("192.0.2.9");
        REQUIRE(slot);
    }
    slot.reset();  // the slot kept the limiter alive; no use after free (ASan)
    CHECK_FALSE(slot);
}
