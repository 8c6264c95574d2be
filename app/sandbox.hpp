// `relaypool serve --sandbox`: the configuration compiled into the binary,
// for trying relaypool on one machine with no file to write first.
//
// What it runs: submission on 127.0.0.1 (STARTTLS and implicit TLS), user
// `demo` / `demo-password`, metrics and admin API on 127.0.0.1, and the
// upstream sandbox: every message is written as .eml under DATA_DIR/mail
// instead of being sent. Everything it keeps lives under one data directory
// (--data-dir, default ./relaypool-sandbox): spool/, pool.state, mail/, and
// tls/ with a CA the clients can trust (server/sandbox_ca.hpp).
//
// The option parsing and the YAML text are pure functions (tests/app); only
// run_sandbox() touches files, the network and the process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rp::app {

struct Options;

struct SandboxOptions {
    bool enabled = false;                        // --sandbox
    std::string data_dir = "relaypool-sandbox";  // --data-dir DIR (relative to the working directory)
    std::uint16_t submission_port = 2587;        // --port-submission N (STARTTLS)
    std::uint16_t smtps_port = 2465;             // --port-smtps N (implicit TLS)
    std::uint16_t metrics_port = 9090;           // --port-metrics N (metrics, health, admin API)
    std::string first_option;                    // the first --data-dir/--port-* seen, for errors
};

// Consumes args[i] (and its value) when it is --sandbox, --data-dir or a
// --port-* option ("--opt V" or "--opt=V"); returns false for anything else.
// A malformed value sets `error`.
bool take_sandbox_option(const std::vector<std::string>& args, std::size_t& i, SandboxOptions& out,
                         std::string& error);

// The combinations parse_args refuses, "" when fine: sandbox options
// without --sandbox, --sandbox with --config or with a command other than
// serve, two sandbox services on one port.
std::string sandbox_usage_error(const Options& options, bool config_given);

// The TLS files the sandbox serves (absolute paths).
struct SandboxTlsPaths {
    std::string certificate;
    std::string private_key;
};

// The embedded configuration, with absolute paths under `data_dir` (already
// absolute). check-config's rules apply to it like to any file.
std::string sandbox_yaml(const SandboxOptions& options, const std::string& data_dir,
                         const SandboxTlsPaths& tls);

// Prepares the data directory and its TLS files, prints where everything
// is, and serves until SIGTERM. Returns the exit code.
int run_sandbox(const Options& options);

}  // namespace rp::app
