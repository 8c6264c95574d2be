// Table-driven tests of the configuration loader over the files in
// tests/data/config: every valid/*.yaml loads (with per-file checks of the
// values it sets), every invalid/*.yaml fails with exactly the
// "FILE:LINE:COL: message" written in its first line ("# expect: ...";
// "{dir}" stands for the file's directory).
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "config/config.hpp"

namespace fs = std::filesystem;
using namespace rp::config;
using namespace std::chrono_literals;

namespace {

const std::string data_dir = std::string(RP_TEST_DATA) + "/config";
const char* const user_hash = "$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3";

// The environment the data files expect.
void set_test_environment() {
    setenv("RP_TEST_ACCOUNT_PASSWORD", "env-secret-456", 1);
    setenv("RP_TEST_USER_HASH", user_hash, 1);
    unsetenv("RP_TEST_UNSET_VARIABLE");
}

void check_minimal(const Config& c) {
    REQUIRE(c.listeners.size() == 2);
    CHECK(c.listeners[0].name == "submission");
    CHECK(c.listeners[0].address.text == "0.0.0.0:587");
    CHECK(c.listeners[0].tls == ListenerTls::starttls);
    CHECK(c.listeners[1].name == "smtps");
    CHECK(c.listeners[1].address.port == 465);
    CHECK(c.listeners[1].tls == ListenerTls::implicit);
    CHECK(c.tls.self_signed);
    CHECK(!c.hostname.empty());
    REQUIRE(c.users.size() == 1);
    CHECK(c.users[0].password_hash == user_hash);
    REQUIRE(c.pool.accounts.size() == 1);
    CHECK(c.pool.accounts[0].password == "inline-secret-1");
    CHECK(!c.pool.accounts[0].oauth2);
    CHECK(c.pool.accounts[0].daily_limit == 2000);
    CHECK(c.limits.max_message_size == 35882577);
    CHECK(c.queue.max_age == 120h);
    CHECK(c.upstream.port == 587);
    CHECK(c.upstream.strip_headers == std::vector<std::string>{"Received", "X-Originating-IP"});
    CHECK(c.metrics.address.text ==
          "0.0.0.0:9090");  // SPEC.md; the admin API answers only loopback without a token
    CHECK(c.admin.token.empty());
}

void check_full_front(const Config& c) {
    CHECK(c.hostname == "relay.example.com");
    REQUIRE(c.listeners.size() == 3);
    CHECK(c.listeners[0].proxy_protocol);
    REQUIRE(c.listeners[0].proxy_protocol_from.size() == 4);
    CHECK(c.listeners[0].proxy_protocol_from[0].contains("10.9.8.7"));
    CHECK(c.listeners[0].proxy_protocol_from[1].contains("2001:db8::5"));
    CHECK(c.listeners[0].proxy_protocol_from[2].contains("35.191.3.4"));
    CHECK(!c.listeners[0].proxy_protocol_from[1].contains("127.0.0.1"));
    CHECK(c.listeners[1].proxy_protocol_from.empty());  // no proxy_protocol: no list
    CHECK(c.listeners[1].address.host == "::1");
    CHECK(c.listeners[1].address.port == 465);
    CHECK(c.listeners[2].tls == ListenerTls::none);
    CHECK(!c.listeners[2].require_auth);
    CHECK(c.tls.certificate == data_dir + "/valid/../secrets/cert.pem");
    CHECK(c.tls.min_version == "1.3");
    REQUIRE(c.users.size() == 2);
    CHECK(c.users[1].password_hash == user_hash);  // from a file with CRLF
    REQUIRE(c.trusted_networks.size() == 3);
    CHECK(c.trusted_networks[2].prefix == 32);
    CHECK(c.limits.max_message_size == 10 * 1024 * 1024);
    CHECK(c.limits.idle_timeout == 90s);
    CHECK(c.limits.auth_failure_delay == 250ms);
    CHECK(c.queue.max_age == 72h);
    CHECK(c.queue.retry_max == 2h);
}

void check_full_back(const Config& c) {
    CHECK(c.upstream.port == 2465);
    CHECK(c.upstream.tls == UpstreamTls::implicit);
    CHECK(c.upstream.sender_rewrite == SenderRewrite::envelope_header);
    CHECK(c.upstream.strip_headers == std::vector<std::string>{"Received", "X-Mailer"});
    CHECK(c.upstream.sandbox == "./sandbox-mail");  // relative to the working directory: unchanged
    CHECK(c.pool.strategy == Strategy::sticky);
    CHECK(c.pool.state == "redis://127.0.0.1:6379/2");
    CHECK(c.pool.cooldown_temporary == 20min);
    REQUIRE(c.pool.accounts.size() == 4);
    CHECK(c.pool.accounts[0].hourly_limit == 60);
    CHECK(c.pool.accounts[0].daily_recipient_limit == 0);
    CHECK(c.pool.accounts[1].password == "pw-from-file-123");  // trailing newlines stripped
    CHECK(c.pool.accounts[2].password == "env-secret-456");
    REQUIRE(c.pool.accounts[3].oauth2);
    CHECK(c.pool.accounts[3].oauth2->scope == "https://mail.google.com/ extra");
    CHECK(c.pool.accounts[3].password.empty());
    CHECK(c.metrics.address.text == "127.0.0.1:9191");
    CHECK(c.admin.token == "admin-token-xyz");
    CHECK(c.logging.level == LogLevel::debug);
    CHECK(c.logging.format == LogFormat::json);
}

void check_oauth2_pool(const Config& c) {
    CHECK(c.users[0].password_hash == user_hash);
    REQUIRE(c.pool.oauth2);
    CHECK(c.pool.oauth2->scope == "https://mail.google.com/");
    REQUIRE(c.pool.accounts.size() == 2);
    REQUIRE(c.pool.accounts[0].oauth2);  // inherited from pool.oauth2
    CHECK(c.pool.accounts[0].oauth2->service_account_file == data_dir + "/valid/../secrets/sa.json");
    CHECK(!c.pool.accounts[1].oauth2);  // has its own password
    CHECK(c.pool.accounts[1].password == "own-password");
}

void check_trusted_relay(const Config& c) {
    REQUIRE(c.listeners.size() == 1);
    CHECK(!c.listeners[0].require_auth);
    CHECK(c.users.empty());
    CHECK(c.upstream.tls == UpstreamTls::none);
    CHECK(c.upstream.port == 25);
    CHECK(c.trusted_networks.at(1).v6);
    CHECK(c.trusted_networks.size() == 7);
}

void check_empty_values(const Config& c) {
    CHECK(c.queue.retry_max == 1h);
    CHECK(c.admin.token_file.empty());
    CHECK(c.upstream.ca_file.empty());
    CHECK(c.upstream.strip_headers.empty());
}

void check_upstream_implicit(const Config& c) {
    CHECK(c.upstream.tls == UpstreamTls::implicit);
    CHECK(c.upstream.port == 465);
    CHECK(c.limits.max_message_size == 20'000'000);
    CHECK(c.limits.idle_timeout == std::chrono::seconds(300));
    CHECK(c.pool.strategy == Strategy::least_used);
    CHECK(c.pool.accounts.at(0).daily_limit == 1);
    CHECK(c.pool.accounts.at(0).hourly_limit == 1);
}

void check_dual_stack(const Config& c) {
    REQUIRE(c.listeners.size() == 2);
    CHECK(c.listeners[1].address.host == "::");
    CHECK(c.metrics.address.host == "::1");
}

void check_public_metrics(const Config& c) {
    CHECK(c.metrics.address.host == "::");
    CHECK(c.admin.token == "admin-token-xyz");
    REQUIRE(c.listeners.size() == 2);
    CHECK(c.listeners[0].proxy_protocol);
    CHECK(c.listeners[0].require_auth);
    // proxy_protocol_from absent: loopback only.
    REQUIRE(c.listeners[0].proxy_protocol_from.size() == 2);
    CHECK(c.listeners[0].proxy_protocol_from[0].contains("127.0.0.1"));
    CHECK(c.listeners[0].proxy_protocol_from[1].contains("::1"));
    CHECK(!c.listeners[0].proxy_protocol_from[0].contains("10.0.0.1"));
    REQUIRE(c.trusted_networks.size() == 3);
    CHECK(c.trusted_networks[1].contains("172.16.0.1"));
    CHECK(!c.trusted_networks[1].contains("173.0.0.1"));
    CHECK(c.trusted_networks[2].prefix == 7);
}

const std::map<std::string, std::function<void(const Config&)>> valid_checks = {
    {"public_metrics.yaml", check_public_metrics},
    {"dual_stack.yaml", check_dual_stack},
    {"upstream_implicit.yaml", check_upstream_implicit},
    {"minimal.yaml", check_minimal},
    {"full.yaml",
     [](const Config& c) {
         check_full_front(c);
         check_full_back(c);
     }},
    {"oauth2_pool.yaml", check_oauth2_pool},
    {"trusted_relay.yaml", check_trusted_relay},
    {"empty_values.yaml", check_empty_values},
    {"redis_shared.yaml",
     [](const Config& c) {
         CHECK(c.pool.state == "rediss://redis.internal:6380/3?prefix=mail&reservation_ttl=600&poll_ms=500");
         CHECK(c.pool.state_password == "redis-secret");
     }},
};

std::string first_line(const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

}  // namespace

TEST_CASE("every valid config file loads and has the values it sets") {
    set_test_environment();
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(data_dir + "/valid")) {
        std::string name = entry.path().filename().string();
        CAPTURE(name);
        auto check = valid_checks.find(name);
        REQUIRE_MESSAGE(check != valid_checks.end(), "add a check for this file to valid_checks");
        Config c;
        try {
            c = load_file(entry.path().string());
        } catch (const ConfigError& e) {
            FAIL(e.what());
        }
        CHECK(c.source == entry.path().string());
        check->second(c);
        ++seen;
    }
    CHECK(seen == static_cast<int>(valid_checks.size()));
}

TEST_CASE("every invalid config file fails at the line, column and key of its expect line") {
    set_test_environment();
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(data_dir + "/invalid")) {
        std::string path = entry.path().string();
        CAPTURE(path);
        std::string line = first_line(entry.path());
        const std::string tag = "# expect: ";
        REQUIRE(line.starts_with(tag));
        std::string expected =
            path + ":" + replace_all(line.substr(tag.size()), "{dir}", entry.path().parent_path().string());
        std::string actual = "(loaded without error)";
        try {
            load_file(path);
        } catch (const ConfigError& e) {
            actual = e.what();
            CHECK(e.file() == path);
            CHECK(e.line() > 0);
        }
        CHECK(actual == expected);
        ++seen;
    }
    CHECK(seen >= 40);
}

TEST_CASE("an unreadable file is an error at 0:0") {
    for (std::string path : {data_dir + "/no-such-file.yaml", data_dir}) {
        CAPTURE(path);
        try {
            load_file(path);
            FAIL("loaded");
        } catch (const ConfigError& e) {
            CHECK(e.line() == 0);
            CHECK(e.column() == 0);
            CHECK(std::string(e.what()).starts_with(path + ":0:0: cannot read the configuration"));
        }
    }
}

namespace {

// A minimal valid file plus `extra` YAML; the error text, or "" when it loads.
std::string load_error(const std::string& extra) {
    std::string yaml = R"(tls:
  self_signed: true
users:
  - username: app
    password_hash: '$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3'
pool:
  accounts:
    - username: a1@example.com
      password: inline-secret-1
)" + extra;
    try {
        load_string(yaml, "t.yaml");
        return "";
    } catch (const ConfigError& e) {
        return e.message();
    }
}

}  // namespace

TEST_CASE("metrics.address may be any address, with or without an admin token") {
    // Without a token the HTTP server answers /api/v1 only to loopback
    // clients (metrics::admin_peer_allowed), so no address is refused here.
    setenv("RP_TEST_ADMIN_TOKEN", "admin-token-from-env", 1);
    for (const char* address : {"127.0.0.1:9090", "[::1]:9090", "0.0.0.0:9090", "[::]:9090", "10.0.0.1:9090",
                                "metrics.example:9090"}) {
        CAPTURE(address);
        std::string metrics = std::string("metrics:\n  address: \"") + address + "\"\n";
        CHECK(load_error(metrics).empty());
        CHECK(load_error(metrics + "admin:\n  token_env: RP_TEST_ADMIN_TOKEN\n").empty());
    }
}

TEST_CASE("trusted_networks: the broadest accepted networks and lists") {
    struct Row {
        const char* networks;
        const char* refusal;  // start of the message, "" = accepted
    };
    const Row rows[] = {
        {R"(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])", ""},
        {R"(["fc00::/7", "fe80::/10", "2001:db8::/32"])", ""},
        {R"(["::ffff:10.0.0.0/104", "::ffff:192.168.1.1"])", ""},
        {R"(["0.0.0.0/8", "1.0.0.0/8", "2.0.0.0/7"])",
         "trusted_networks[2]: \"2.0.0.0/7\" is broader than an IPv4 /8"},
        {R"(["::ffff:0:0/97"])",
         "trusted_networks[0]: \"::ffff:0:0/97\" holds the IPv4-mapped addresses of 0.0.0.0/1"},
        {R"(["::/96"])", ""},  // IPv4-compatible ::a.b.c.d: no client is matched through it
        {R"(["::/80"])", "trusted_networks[0]: \"::/80\" holds the IPv4-mapped addresses of 0.0.0.0/0"},
        {R"(["::/0"])", "trusted_networks[0]: \"::/0\" trusts every address"},
        {R"(["0.0.0.0/0"])", "trusted_networks[0]: \"0.0.0.0/0\" trusts every address"},
        {R"(["fe00::/7", "fc00::/7"])", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.networks);
        std::string refused = load_error(std::string("trusted_networks: ") + row.networks + "\n");
        if (*row.refusal == '\0') {
            CHECK(refused.empty());
        } else {
            CHECK(refused.starts_with(row.refusal));
        }
    }
}
