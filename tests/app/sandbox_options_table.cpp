// `serve --sandbox` on the command line: which argument vectors parse into
// which SandboxOptions, which combinations are refused and with what text,
// and that the embedded configuration passes the real loader with the
// ports and absolute paths it was given (app/sandbox.hpp). parse_args itself
// (app/cli.cpp, linked with every command) is covered end to end by
// tests/integration/test_sandbox_mode.py.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/cli.hpp"
#include "app/sandbox.hpp"
#include "config/config.hpp"

using rp::app::Options;
using rp::app::SandboxOptions;

namespace {

struct Parsed {
    Options options;
    std::vector<std::string> rest;  // arguments the sandbox family did not take
    std::string error;
    bool config_given = false;
};

// The same loop shape as parse_args: each argument is offered to the
// sandbox family first; --config and command words are noted.
Parsed parse(const std::vector<std::string>& args) {
    Parsed p;
    for (std::size_t i = 0; i < args.size() && p.error.empty(); ++i) {
        if (rp::app::take_sandbox_option(args, i, p.options.sandbox, p.error)) continue;
        if (args[i] == "--config") {
            p.config_given = true;
            ++i;
        } else if (!args[i].starts_with("-")) {
            p.options.words.push_back(args[i]);
        } else {
            p.rest.push_back(args[i]);
        }
    }
    if (p.error.empty()) p.error = rp::app::sandbox_usage_error(p.options, p.config_given);
    return p;
}

}  // namespace

TEST_CASE("sandbox options: accepted forms and the values they give") {
    struct Row {
        std::vector<std::string> args;
        bool enabled;
        std::string data_dir;
        int submission, smtps, metrics;
    };
    const Row rows[] = {
        {{"serve", "--sandbox"}, true, "relaypool-sandbox", 2587, 2465, 9090},
        {{"--sandbox"}, true, "relaypool-sandbox", 2587, 2465, 9090},
        {{"--sandbox", "serve", "--data-dir", "/tmp/sb"}, true, "/tmp/sb", 2587, 2465, 9090},
        {{"serve", "--sandbox", "--data-dir=rel/dir"}, true, "rel/dir", 2587, 2465, 9090},
        {{"serve", "--sandbox", "--port-submission", "10587", "--port-smtps=10465", "--port-metrics",
          "19090"},
         true,
         "relaypool-sandbox",
         10587,
         10465,
         19090},
        {{"serve", "--sandbox", "--port-metrics", "1", "--port-smtps", "65535"},
         true,
         "relaypool-sandbox",
         2587,
         65535,
         1},
        {{"serve", "--sandbox", "--port-smtps", "3000", "--port-smtps", "3001"},
         true,
         "relaypool-sandbox",
         2587,
         3001,
         9090},  // the last one wins, as for --config
        {{"serve"}, false, "relaypool-sandbox", 2587, 2465, 9090},
    };
    for (const auto& row : rows) {
        CAPTURE(row.args.size());
        CAPTURE(row.args.back());
        Parsed p = parse(row.args);
        CHECK(p.error == "");
        CHECK(p.rest.empty());
        const SandboxOptions& s = p.options.sandbox;
        CHECK(s.enabled == row.enabled);
        CHECK(s.data_dir == row.data_dir);
        CHECK(s.submission_port == row.submission);
        CHECK(s.smtps_port == row.smtps);
        CHECK(s.metrics_port == row.metrics);
    }
}

TEST_CASE("sandbox options: refused forms and their messages") {
    struct Row {
        std::vector<std::string> args;
        std::string error;
    };
    const Row rows[] = {
        {{"serve", "--sandbox", "--port-smtps"}, "option --port-smtps needs a value"},
        {{"serve", "--sandbox", "--port-smtps", "0"},
         "--port-smtps needs a port number from 1 to 65535, not \"0\""},
        {{"serve", "--sandbox", "--port-smtps", "65536"},
         "--port-smtps needs a port number from 1 to 65535, not \"65536\""},
        {{"serve", "--sandbox", "--port-metrics=9090x"},
         "--port-metrics needs a port number from 1 to 65535, not \"9090x\""},
        {{"serve", "--sandbox", "--port-submission", "-1"},
         "--port-submission needs a port number from 1 to 65535, not \"-1\""},
        {{"serve", "--sandbox", "--port-submission="},
         "--port-submission needs a port number from 1 to 65535, not \"\""},
        {{"serve", "--sandbox", "--data-dir"}, "option --data-dir needs a value"},
        {{"serve", "--sandbox", "--data-dir="}, "--data-dir needs a directory name"},
        {{"serve", "--sandbox", "--data-dir", "a\nb"}, "--data-dir: control characters in the path"},
        {{"serve", "--port-smtps", "3000"},
         "--port-smtps only applies to serve --sandbox (with a configuration file, set listeners, "
         "metrics.address and the directories there)"},
        {{"serve", "--data-dir", "x", "--port-smtps", "3000"},
         "--data-dir only applies to serve --sandbox (with a configuration file, set listeners, "
         "metrics.address and the directories there)"},
        {{"serve", "--sandbox", "--config", "/etc/relaypool/relaypool.yaml"},
         "--sandbox runs the configuration built into relaypool; it takes no --config"},
        {{"check-config", "--sandbox"}, "--sandbox only applies to serve"},
        {{"queue", "list", "--sandbox"}, "--sandbox only applies to serve"},
        {{"serve", "extra", "--sandbox"}, "--sandbox only applies to serve"},
        {{"serve", "--sandbox", "--port-smtps", "2587"},
         "the sandbox ports (--port-submission, --port-smtps, --port-metrics) must differ"},
        {{"serve", "--sandbox", "--port-metrics", "2465"},
         "the sandbox ports (--port-submission, --port-smtps, --port-metrics) must differ"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.error);
        CHECK(parse(row.args).error == row.error);
    }
}

TEST_CASE("sandbox options: other options are left to parse_args") {
    Parsed p = parse({"serve", "--sandbox", "--sandboxed", "--port", "--json"});
    CHECK(p.error == "");
    CHECK(p.rest == std::vector<std::string>{"--sandboxed", "--port", "--json"});
}

TEST_CASE("sandbox_yaml: the real loader accepts it with the given ports and absolute paths") {
    SandboxOptions o;
    o.submission_port = 10587;
    o.smtps_port = 10465;
    o.metrics_port = 19090;
    // A directory name that needs YAML escaping; the loader checks the TLS files exist.
    char base[] = "/tmp/rp-sandbox-yaml-XXXXXX";
    REQUIRE(::mkdtemp(base) != nullptr);
    const std::string dir = std::string(base) + "/a dir \"with\" quotes\\";
    std::filesystem::create_directories(dir + "/tls");
    std::ofstream(dir + "/tls/s.pem") << "certificate";
    std::ofstream(dir + "/tls/s.key") << "key";
    auto config = rp::config::load_string(
        rp::app::sandbox_yaml(o, dir, {dir + "/tls/s.pem", dir + "/tls/s.key"}), "<sandbox>", dir);
    REQUIRE(config.listeners.size() == 2);
    CHECK(config.listeners[0].address.host == "127.0.0.1");
    CHECK(config.listeners[0].address.port == 10587);
    CHECK(config.listeners[0].tls == rp::config::ListenerTls::starttls);
    CHECK(config.listeners[1].address.port == 10465);
    CHECK(config.listeners[1].tls == rp::config::ListenerTls::implicit);
    CHECK(config.metrics.address.host == "127.0.0.1");
    CHECK(config.metrics.address.port == 19090);
    CHECK(config.tls.certificate == dir + "/tls/s.pem");
    CHECK(config.tls.private_key == dir + "/tls/s.key");
    CHECK_FALSE(config.tls.self_signed);
    CHECK(config.queue.directory == dir + "/spool");
    CHECK(config.upstream.sandbox == dir + "/mail");
    CHECK(config.pool.state == dir + "/pool.state");
    REQUIRE(config.users.size() == 1);
    CHECK(config.users[0].username == "demo");
    CHECK(config.pool.accounts.size() == 2);
    CHECK(config.admin.token.empty());  // admin API: loopback clients only
    std::filesystem::remove_all(base);
}
