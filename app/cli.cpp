// Command-line parsing and dispatch for relaypool (see cli.hpp).
// Parsing is a pure function of argv so that tests can table-drive it;
// only run() and the commands touch streams, files and the environment.
#include "app/cli.hpp"

#include <iostream>
#include <ostream>

namespace rp::app {
namespace {

// Options that take a value: "--config FILE" or "--config=FILE".
bool take_value(const std::vector<std::string>& args, std::size_t& i, const std::string& name,
                std::optional<std::string>& out, std::string& error) {
    const std::string& arg = args[i];
    if (arg.starts_with(name + "=")) {
        out = arg.substr(name.size() + 1);
        return true;
    }
    if (arg != name) return false;
    if (i + 1 >= args.size()) {
        error = "option " + name + " needs a value";
        return true;
    }
    out = args[++i];
    return true;
}

bool is_one_of(const std::string& s, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (s == n) return true;
    return false;
}

// Checks the shape of "queue ..." / "pool ..." words; "" when fine.
std::string admin_usage_error(const Options& o) {
    const auto& w = o.words;
    std::string sub = w.size() > 1 ? w[1] : "";
    if (w[0] == "queue") {
        if (sub == "list" && w.size() == 2) return "";
        if (sub == "show" && w.size() == 3) return "";
        if (sub == "retry" && ((w.size() == 3) != o.all)) return "";
        if (sub == "delete" && w.size() == 3) return "";
        return "usage: relaypool queue list | show ID | retry ID|--all | delete ID";
    }
    if (sub == "status" && w.size() == 2) return "";
    if ((sub == "pause" || sub == "resume") && w.size() == 3) return "";
    return "usage: relaypool pool status | pause NAME | resume NAME";
}

int usage_error(const std::string& message) {
    std::cerr << "relaypool: " << message << "\n";
    print_usage(std::cerr);
    return exit_usage;
}

}  // namespace

ParseResult parse_args(const std::vector<std::string>& args) {
    Options o;
    std::string error;
    bool words_only = false;
    bool config_given = false;
    for (std::size_t i = 0; i < args.size() && error.empty(); ++i) {
        const std::string& a = args[i];
        std::optional<std::string> config;
        if (words_only || a.empty() || a[0] != '-' || a == "-") {
            o.words.push_back(a);
        } else if (a == "--") {
            words_only = true;
        } else if (a == "--help" || a == "-h") {
            o.help = true;
        } else if (a == "--version" || a == "-V") {
            o.version = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--all") {
            o.all = true;
        } else if (a == "--ready") {
            o.ready = true;
        } else if (take_value(args, i, "--config", config, error) ||
                   take_value(args, i, "-c", config, error)) {
            if (config) o.config = *config;
            config_given = true;
        } else if (take_sandbox_option(args, i, o.sandbox, error)) {
        } else if (take_value(args, i, "--admin", o.admin, error) ||
                   take_value(args, i, "--token", o.token, error) ||
                   take_value(args, i, "--url", o.url, error)) {
        } else {
            error = "unknown option \"" + a + "\"";
        }
    }
    if (!error.empty()) return {std::nullopt, error};
    if (o.config.empty()) return {std::nullopt, "--config needs a file name"};
    if (auto e = sandbox_usage_error(o, config_given); !e.empty()) return {std::nullopt, e};
    return {std::move(o), ""};
}

void print_usage(std::ostream& out) {
    out << "usage:\n"
           "  relaypool [serve] --config FILE       run the relay (serve is the default)\n"
           "  relaypool serve --sandbox [--data-dir DIR] [--port-submission N] [--port-smtps N] "
           "[--port-metrics N]\n"
           "                                        run the built-in sandbox configuration (nothing is "
           "sent;\n"
           "                                        mail, queue and a CA to trust go under DIR, default\n"
           "                                        ./relaypool-sandbox; ports default to 2587, 2465, 9090)\n"
           "  relaypool check-config --config FILE  validate; exit 0, or print FILE:LINE:COL: message, exit "
           "2\n"
           "  relaypool hash-password               read a password on stdin, print a hash for "
           "users[].password_hash\n"
           "  relaypool queue list | show ID | retry ID|--all | delete ID\n"
           "  relaypool pool status | pause NAME | resume NAME\n"
           "  relaypool health [--url URL] [--ready] ask the running server's /healthz (/readyz); exit 0 "
           "or 1\n"
           "  relaypool --version | --help\n"
           "options (before or after the command words):\n"
           "  --config FILE   configuration file (default "
        << default_config_path
        << ")\n"
           "  --admin URL     admin API of the running server (default http://127.0.0.1:9090)\n"
           "  --token TOKEN   admin API token (default: $RELAYPOOL_ADMIN_TOKEN)\n"
           "  --json          JSON output for queue and pool listings\n"
           "  --url URL       health: the server's metrics.address (default http://127.0.0.1:9090)\n"
           "  --ready         health: ask /readyz (listeners, queue, a usable account) instead of /healthz\n"
           "exit codes: 0 ok, 1 operation failed (health: not healthy or unreachable), 2 usage or\n"
           "configuration error, 3 server unreachable\n";
}

int run(const Options& o) {
    if (o.help) {
        print_usage(std::cout);
        return exit_ok;
    }
    if (o.version) {
        std::cout << "relaypool " << RELAYPOOL_VERSION << "\n";
        return exit_ok;
    }
    const auto& w = o.words;
    if (w.empty() || (w[0] == "serve" && w.size() == 1)) return run_serve(o);
    if (w[0] == "check-config" && w.size() == 1) return run_check_config(o);
    if (w[0] == "hash-password" && w.size() == 1) return run_hash_password(o);
    if (w[0] == "health" && w.size() == 1) return run_health(o);
    if (is_one_of(w[0], {"queue", "pool"})) {
        std::string err = admin_usage_error(o);
        return err.empty() ? run_admin_command(o) : usage_error(err);
    }
    if (is_one_of(w[0], {"serve", "check-config", "hash-password", "health"}))
        return usage_error("unexpected argument \"" + w[1] + "\" after " + w[0]);
    return usage_error("unknown command \"" + w[0] + "\"");
}

}  // namespace rp::app
