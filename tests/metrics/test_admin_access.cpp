// The admin API's Origin/Host decision (metrics/admin_access.hpp) as a table:
// cross-site requests and DNS-rebound names are refused without a token,
// the relaypool CLI, curl, an ssh tunnel and a same-origin page are not.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "metrics/admin_access.hpp"

using rp::metrics::admin_refusal;
using rp::metrics::AdminRequestFacts;

namespace {

struct Case {
    const char* name;
    bool token;
    bool loopback;
    std::optional<std::string> origin;
    std::optional<std::string> host;
    std::string configured;
    bool allowed;
};

}  // namespace

TEST_CASE("admin_refusal: Origin and Host without a token") {
    const std::optional<std::string> none;
    const std::vector<Case> cases = {
        {"cli: Host 127.0.0.1", false, true, none, "127.0.0.1", "127.0.0.1", true},
        {"curl: Host with port", false, true, none, "127.0.0.1:9090", "127.0.0.1", true},
        {"localhost", false, true, none, "localhost:9090", "0.0.0.0", true},
        {"LOCALHOST, trailing dot", false, true, none, "LOCALHOST.:9090", "0.0.0.0", true},
        {"127/8", false, true, none, "127.8.9.10", "0.0.0.0", true},
        {"[::1]", false, true, none, "[::1]:9090", "::", true},
        {"mapped loopback", false, true, none, "[::ffff:127.0.0.1]", "::", true},
        {"no Host (HTTP/1.0)", false, true, none, none, "0.0.0.0", true},
        {"ssh tunnel port", false, true, none, "localhost:18080", "127.0.0.1", true},
        {"configured name", false, true, none, "relay.example.com:9090", "relay.example.com", true},
        {"configured name, any case", false, true, none, "Relay.Example.COM", "relay.example.com", true},
        {"configured wildcard literal", false, true, none, "0.0.0.0:9090", "0.0.0.0", true},
        {"same origin", false, true, "http://127.0.0.1:9090", "127.0.0.1:9090", "127.0.0.1", true},
        {"same origin, trailing slash", false, true, "http://localhost:9090/", "localhost:9090", "0.0.0.0",
         true},
        {"rebound name", false, true, none, "attacker.example", "127.0.0.1", false},
        {"rebound name with port", false, true, none, "attacker.example:9090", "127.0.0.1", false},
        {"localhost suffix trick", false, true, none, "localhost.attacker.example", "127.0.0.1", false},
        {"128.0.0.1 is not loopback", false, true, none, "128.0.0.1", "127.0.0.1", false},
        {"other v6", false, true, none, "[2001:db8::1]", "::", false},
        {"malformed Host", false, true, none, "local host", "127.0.0.1", false},
        {"empty Host", false, true, none, "", "127.0.0.1", false},
        {"bad port", false, true, none, "localhost:x", "127.0.0.1", false},
        {"foreign Origin", false, true, "http://attacker.example", "127.0.0.1:9090", "127.0.0.1", false},
        {"other local port", false, true, "http://localhost:3000", "localhost:9090", "0.0.0.0", false},
        {"https origin", false, true, "https://127.0.0.1:9090", "127.0.0.1:9090", "127.0.0.1", false},
        {"Origin null", false, true, "null", "127.0.0.1:9090", "127.0.0.1", false},
        {"Origin without Host", false, true, "http://127.0.0.1", none, "127.0.0.1", false},
        {"remote peer", false, false, none, "127.0.0.1", "0.0.0.0", false},
        // With a token the bearer check decides (a browser cannot add it cross-site).
        {"token: foreign Origin", true, true, "http://attacker.example", "attacker.example", "0.0.0.0", true},
        {"token: remote peer", true, false, none, "relay.example.com", "0.0.0.0", true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        AdminRequestFacts facts{c.token, c.loopback, c.origin, c.host, c.configured};
        CHECK(admin_refusal(facts).empty() == c.allowed);
    }
}

TEST_CASE("admin_refusal: Sec-Fetch-Site without a token (a no-cors GET carries no Origin)") {
    struct Case {
        const char* site;
        bool token;
        bool allowed;
    };
    const Case cases[] = {
        {"same-origin", false, true}, {"none", false, true},        {"cross-site", false, false},
        {"same-site", false, false},  {"CROSS-SITE", false, false}, {"cross-site", true, true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.site);
        CAPTURE(c.token);
        AdminRequestFacts facts{c.token, true, std::nullopt, "127.0.0.1:9090", "127.0.0.1", c.site};
        CHECK(admin_refusal(facts).empty() == c.allowed);
    }
}

TEST_CASE("authority_host") {
    CHECK(rp::metrics::authority_host("Example.COM:80") == "example.com");
    CHECK(rp::metrics::authority_host("[::1]:9090") == "::1");
    CHECK(rp::metrics::authority_host("[::1") == std::nullopt);
    CHECK(rp::metrics::authority_host("[zz]") == std::nullopt);
    CHECK(rp::metrics::authority_host("a:1:2") == std::nullopt);
    CHECK(rp::metrics::authority_host(":80") == std::nullopt);
}
