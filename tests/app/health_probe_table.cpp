// `relaypool health`: the probe planned from --url/--ready and the verdict
// for each kind of answer, as tables (the real binary against a real server
// is tests/integration/test_health_cli.py).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "app/health.hpp"

using namespace rp::app;

TEST_CASE("health::plan: URL and path") {
    struct Row {
        std::optional<std::string> url;
        bool ready;
        const char* host;
        std::uint16_t port;
        const char* prefix;
        const char* path;
    };
    const std::vector<Row> rows = {
        {std::nullopt, false, "127.0.0.1", 9090, "", "/healthz"},
        {std::nullopt, true, "127.0.0.1", 9090, "", "/readyz"},
        {"http://10.0.0.5:19090", false, "10.0.0.5", 19090, "", "/healthz"},
        {"http://[::1]:9090/", true, "::1", 9090, "", "/readyz"},
        {"http://proxy:8080/relaypool", true, "proxy", 8080, "/relaypool", "/readyz"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.url.value_or("(default)"));
        auto got = health::plan(r.url, r.ready);
        REQUIRE(got.probe.has_value());
        CHECK(got.probe->url.host == r.host);
        CHECK(got.probe->url.port == r.port);
        CHECK(got.probe->url.prefix == r.prefix);
        CHECK(got.probe->path == r.path);
    }
}

TEST_CASE("health::plan: a bad URL names --url and the problem") {
    for (const char* bad : {"127.0.0.1:9090", "https://127.0.0.1:9090", "http://h:0", "http://"}) {
        CAPTURE(bad);
        auto got = health::plan(std::string(bad), false);
        CHECK_FALSE(got.probe.has_value());
        CHECK(got.error.starts_with("--url \""));
    }
}

TEST_CASE("health::judge: exit code and the reason line") {
    auto probe = [](const char* url, bool ready) { return *health::plan(std::string(url), ready).probe; };
    auto reply = [](int status, std::string body) {
        return admin::CallResult{admin::Reply{status, std::move(body)}, ""};
    };
    auto unreachable = [](std::string error) { return admin::CallResult{std::nullopt, std::move(error)}; };
    struct Row {
        health::Probe probe;
        admin::CallResult result;
        int exit_code;
        std::string message;
    };
    const std::vector<Row> rows = {
        {probe("http://127.0.0.1:9090", false), reply(200, "ok\n"), 0,
         "healthy: http://127.0.0.1:9090/healthz\n"},
        {probe("http://127.0.0.1:9090/", true), reply(200, "ready\n"), 0,
         "ready: http://127.0.0.1:9090/readyz\n"},
        {probe("http://127.0.0.1:9090", true), reply(503, "no usable pool account\n"), 1,
         "not ready: http://127.0.0.1:9090/readyz answered HTTP 503: no usable pool account\n"},
        // Whatever answered is untrusted: control bytes cannot reach the terminal.
        {probe("http://127.0.0.1:9090", false), reply(404, "not\x1b[2Jfound\r\n"), 1,
         "unhealthy: http://127.0.0.1:9090/healthz answered HTTP 404: not [2Jfound\n"},
        {probe("http://127.0.0.1:9090", false), reply(500, ""), 1,
         "unhealthy: http://127.0.0.1:9090/healthz answered HTTP 500: (empty body)\n"},
        {probe("http://127.0.0.1:9090", false),
         unreachable("cannot reach the admin API at http://127.0.0.1:9090 (connect: Connection refused)"), 1,
         "unhealthy: http://127.0.0.1:9090/healthz: cannot reach relaypool (connect: Connection refused)\n"},
        {probe("http://127.0.0.1:9090", true),
         unreachable("cannot reach the admin API at x (timed out after 2000 ms)"), 1,
         "not ready: http://127.0.0.1:9090/readyz: cannot reach the admin API at x (timed out after 2000 "
         "ms)\n"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.message);
        auto got = health::judge(r.probe, r.result);
        CHECK(got.exit_code == r.exit_code);
        CHECK(got.message == r.message);
    }
}

TEST_CASE("health::judge: a long body is cut") {
    auto probe = *health::plan(std::nullopt, true).probe;
    auto got = health::judge(probe, admin::CallResult{admin::Reply{503, std::string(5000, 'x')}, ""});
    CHECK(got.exit_code == 1);
    CHECK(got.message.size() < health::max_reason_bytes + 100);
    CHECK(got.message.ends_with("...\n"));
}
