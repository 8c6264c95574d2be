// `relaypool serve --sandbox` at run time (see sandbox.hpp): makes the data
// directory and its TLS files, loads the embedded configuration through the
// normal loader (so every check-config rule applies), tells the person at
// the terminal where things are, and serves. SIGHUP rebuilds the same
// configuration (picking up renewed certificates).
#include <filesystem>
#include <iostream>

#include "app/cli.hpp"
#include "app/logging_setup.hpp"
#include "app/sandbox.hpp"
#include "app/serve.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "server/sandbox_ca.hpp"

namespace rp::app {
namespace {

namespace fs = std::filesystem;

// Made for the person who just typed the command: where to connect, what
// to trust, where the mail goes. Logs follow on the same stream.
void print_banner(const SandboxOptions& o, const std::string& data_dir, const server::SandboxTlsFiles& tls) {
    const std::string ca = tls.ca;
    std::cerr << "relaypool sandbox: nothing leaves this machine; every relayed message becomes a file.\n"
              << "  submission  127.0.0.1:" << o.submission_port << " (STARTTLS), 127.0.0.1:" << o.smtps_port
              << " (implicit TLS); user demo, password demo-password\n"
              << "  metrics     http://127.0.0.1:" << o.metrics_port
              << "/metrics (admin API: relaypool queue list --admin http://127.0.0.1:" << o.metrics_port
              << ")\n"
              << "  CA          " << ca
              << (tls.created ? " (new: trust it again if you trusted an older one)" : "") << "\n"
              << "              python: ssl.create_default_context(cafile=\"" << ca << "\")\n"
              << "              node:   NODE_EXTRA_CA_CERTS=" << ca << "\n"
              << "              swaks:  --tls-verify --tls-ca-path " << ca << "\n"
              << "  mail        " << data_dir << "/mail/ (one .eml per relayed message)\n"
              << "  queue       " << data_dir << "/spool/\n"
              << std::flush;
}

// The configuration for this data directory; throws config::ConfigError.
config::Config build(const SandboxOptions& o, const std::string& data_dir, server::SandboxTlsFiles* out_tls) {
    server::SandboxTlsFiles tls = server::ensure_sandbox_tls(data_dir + "/tls");
    if (!tls.error.empty()) throw config::ConfigError("<sandbox>", 0, 0, tls.error);
    std::string yaml = sandbox_yaml(o, data_dir, {tls.certificate, tls.private_key});
    if (out_tls) *out_tls = tls;
    return config::load_string(yaml, "<sandbox>", data_dir);
}

}  // namespace

int run_sandbox(const Options& options) {
    const SandboxOptions o = options.sandbox;
    std::error_code ec;
    fs::path absolute = fs::absolute(o.data_dir, ec);
    if (!ec) absolute = fs::weakly_canonical(absolute, ec);
    const std::string data_dir = absolute.string();
    if (!ec) fs::create_directories(data_dir, ec);
    if (ec) {
        std::cerr << "relaypool: cannot create the sandbox directory " << o.data_dir << ": " << ec.message()
                  << "\n";
        return exit_failure;
    }
    server::SandboxTlsFiles tls;
    std::optional<config::Config> config;
    try {
        config = build(o, data_dir, &tls);
    } catch (const config::ConfigError& e) {
        std::cerr << "relaypool: sandbox: " << e.what() << "\n";
        return exit_failure;
    }
    configure_logging(config->logging);
    print_banner(o, data_dir, tls);
    log::info("main", "configuration loaded",
              {{"config", "<sandbox>"}, {"data_dir", data_dir}, {"version", RELAYPOOL_VERSION}});
    return serve(*config, "<sandbox>", [o, data_dir] { return build(o, data_dir, nullptr); });
}

}  // namespace rp::app
