// The commands of the relaypool command line that run inside this process:
// check-config, hash-password and serve (which hands over to app/serve.cpp).
// The queue/pool admin commands are in app/admin_commands.cpp. See cli.hpp.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <set>
#include <string>

#include "app/cli.hpp"
#include "app/logging_setup.hpp"
#include "app/sandbox.hpp"
#include "app/serve.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "oauth/service_account.hpp"
#include "server/password.hpp"

namespace rp::app {
namespace {

// Reads one line from stdin with terminal echo off when stdin is a
// terminal. Trailing CR/LF are stripped.
std::string read_password_line(const char* prompt) {
    bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
        std::cerr << prompt << std::flush;
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
        tty = false;
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::cerr << "\n";
    }
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
}

void wipe(std::string& s) {
    std::fill(s.begin(), s.end(), '\0');
    s.clear();
}

// Loads and validates; prints the error line and returns nullopt on failure.
std::optional<config::Config> load(const std::string& path) {
    try {
        return config::load_file(path);
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return std::nullopt;
    }
}

// Every service account key an oauth2 account names: readable, a
// service_account key whose private key parses and whose token_uri is https
// (the checks the relay runs before its first token request). Prints one
// line per unusable file.
bool service_account_keys_usable(const config::Config& config, const std::string& config_path) {
    std::set<std::string> checked;
    bool ok = true;
    for (const auto& a : config.pool.accounts) {
        if (!a.oauth2 || !checked.insert(a.oauth2->service_account_file).second) continue;
        auto result = oauth::load_service_account_file(a.oauth2->service_account_file);
        if (result.key) continue;
        std::cerr << config_path << ": pool account " << a.username << ": oauth2.service_account_file "
                  << result.error << "\n";
        ok = false;
    }
    return ok;
}

}  // namespace

int run_check_config(const Options& options) {
    auto config = load(options.config);
    if (!config) return exit_usage;
    if (!service_account_keys_usable(*config, options.config)) return exit_usage;
    std::cout << options.config << ": ok\n";
    return exit_ok;
}

int run_hash_password(const Options&) {
    std::string password = read_password_line("Password: ");
    if (password.empty()) {
        std::cerr << "relaypool: empty password; nothing hashed\n";
        return exit_usage;
    }
    if (::isatty(STDIN_FILENO) == 1) {
        std::string again = read_password_line("Again: ");
        bool same = again == password;
        wipe(again);
        if (!same) {
            wipe(password);
            std::cerr << "relaypool: the passwords differ; nothing hashed\n";
            return exit_usage;
        }
    }
    auto hash = server::hash_password(password);
    wipe(password);
    if (!hash) {
        std::cerr << "relaypool: libcrypt could not make a yescrypt hash\n";
        return exit_failure;
    }
    std::cout << *hash << "\n";
    return exit_ok;
}

int run_serve(const Options& options) {
    if (options.sandbox.enabled) return run_sandbox(options);
    auto config = load(options.config);
    if (!config) return exit_usage;
    configure_logging(config->logging);
    log::info("main", "configuration loaded",
              {{"config", options.config}, {"version", RELAYPOOL_VERSION}, {"hostname", config->hostname}});
    const std::string path = options.config;
    return serve(*config, path, [path] { return config::load_file(path); });
}

}  // namespace rp::app
