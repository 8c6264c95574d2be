// The relaypool command line (SPEC.md "Command line"): argument parsing into
// a plain Options value, and one function per command. Options may stand
// before or after the command words. Exit codes: 0 ok, 1 the operation
// failed at run time, 2 usage or configuration error, 3 the admin API could
// not be reached or refused the token. Used only by app/main.cpp and its tests.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "app/sandbox.hpp"

namespace rp::app {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;
inline constexpr int exit_unreachable = 3;  // queue/pool: admin API unreachable or token refused

inline constexpr const char* default_config_path = "/etc/relaypool/relaypool.yaml";

struct Options {
    std::vector<std::string> words;  // command words, e.g. {"queue", "retry", "ID"}
    std::string config = default_config_path;
    bool help = false;
    bool version = false;
    bool json = false;
    bool all = false;                  // queue retry --all
    std::optional<std::string> admin;  // --admin URL
    std::optional<std::string> token;  // --token TOKEN (a secret: never echoed)
    std::optional<std::string> url;    // health --url URL
    bool ready = false;                // health --ready: /readyz instead of /healthz
    SandboxOptions sandbox;            // serve --sandbox [--data-dir DIR] [--port-* N] (app/sandbox.hpp)
};

struct ParseResult {
    std::optional<Options> options;
    std::string error;  // set when options is empty
};

ParseResult parse_args(const std::vector<std::string>& args);
void print_usage(std::ostream& out);

// Commands. Each returns the process exit code.
int run_check_config(const Options& options);
int run_hash_password(const Options& options);
int run_serve(const Options& options);
int run_admin_command(const Options& options);  // queue ... / pool ... (app/admin_commands.cpp)
int run_health(const Options& options);         // health (app/health.cpp): exit 0 or 1

// Dispatches on options.words.
int run(const Options& options);

}  // namespace rp::app
