// `relaypool serve`: the one place that wires the submission server, the
// spool / relay engine, the metrics + admin HTTP endpoint and the signals.
//
// Threads: one io_context thread runs everything (sessions, HTTP, relay);
// helpers (AUTH hashing, spool commits) post results back to it.
// Signals: SIGTERM/SIGINT -> stop accepting, close idle sessions, let active
// ones finish (bounded), stop the relay, exit 0. SIGHUP -> reload the config
// file; an invalid config or certificate is refused and the old one kept.
// Object order matters: metrics outlive the io_context (coroutine frames that
// the io_context destroys may still count), the io_context outlives everything
// that owns sockets or timers.
#include "app/serve.hpp"
#include "app/logging_setup.hpp"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <optional>

#include "app/admin_api.hpp"
#include "app/sd_notify.hpp"
#include "common/log.hpp"
#include "metrics/http_server.hpp"
#include "metrics/metrics.hpp"
#include "relay/relay.hpp"
#include "server/server.hpp"

namespace rp::app {
namespace {

namespace net = boost::asio;
constexpr auto kSessionGrace = std::chrono::seconds(10);
constexpr auto kStopDeadline = std::chrono::seconds(20);

// Many idle sessions need many descriptors: take the hard limit.
void raise_nofile_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) log::warn("main", "cannot raise the open-file limit");
}

struct Services {
    net::io_context& io;
    const std::string& config_name;
    const ConfigSource& load_config;
    relay::Relay& relay;
    server::Server& server;
    metrics::HttpServer& http;
    net::signal_set& signals;
    net::steady_timer& stop_deadline;
    bool stopping = false;
};

// Tells systemd (Type=notify) about a state change; a failure is logged,
// never fatal: the relay works the same without a supervisor.
void notify(std::string_view state) {
    if (auto error = sd_notify(state); !error.empty())
        log::warn("main", "sd_notify failed", {{"error", error}});
}

void reload_config(Services& s);

// systemd waits between RELOADING=1 and READY=1, so `systemctl reload`
// returns after the new configuration is in place (or refused).
void reload(Services& s) {
    notify("RELOADING=1");
    reload_config(s);
    notify("READY=1");
}

void reload_config(Services& s) {
    log::info("main", "reloading configuration", {{"file", s.config_name}});
    std::optional<config::Config> next;
    try {
        next = s.load_config();
    } catch (const config::ConfigError& e) {
        log::error("main", "new configuration refused, keeping the old one", {{"error", e.what()}});
        return;
    }
    if (auto error = s.server.reload(*next); !error.empty()) {
        log::error("main", "new configuration refused, keeping the old one", {{"error", error}});
        return;
    }
    s.relay.reload(*next);
    s.http.set_admin_token(next->admin.token);
    configure_logging(next->logging);
    log::info("main", "configuration reloaded");
}

void stop(Services& s) {
    if (s.stopping) return;
    s.stopping = true;
    notify("STOPPING=1");
    log::info("main", "shutting down");
    // Whatever is still running after the deadline is abandoned: the spool
    // keeps every acknowledged message, so stopping the loop is safe.
    s.stop_deadline.expires_after(kStopDeadline);
    s.stop_deadline.async_wait([&s](boost::system::error_code ec) {
        if (ec) return;
        log::warn("main", "shutdown deadline passed, stopping now");
        s.io.stop();
    });
    s.server.shutdown(kSessionGrace, [&s] {
        s.relay.stop([&s] {
            s.http.stop();
            boost::system::error_code ignored;
            s.signals.cancel(ignored);
            s.stop_deadline.cancel();
            log::info("main", "stopped");
        });
    });
}

void wait_signals(Services& s) {
    s.signals.async_wait([&s](boost::system::error_code ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            if (!s.stopping) reload(s);
        } else {
            stop(s);
        }
        wait_signals(s);
    });
}

std::string readiness_problem(const server::Server& server, const relay::Relay& relay) {
    if (!server.listening()) return "listeners are not up";
    return relay.readiness_problem();
}

}  // namespace

int serve(const config::Config& config, const std::string& source_name, ConfigSource reload_source) {
    raise_nofile_limit();
    metrics::Metrics metrics;
    net::io_context io(1);
    relay::Relay relay(io, config, metrics);
    if (auto ec = relay.open()) {
        log::error("main", "cannot start the relay", {{"error", ec.message()}});
        return 1;
    }
    server::Server server(io, config, metrics, relay.intake());
    metrics::HttpServer http(io, metrics);
    net::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
    net::steady_timer stop_deadline(io);
    Services services{io, source_name, reload_source, relay, server, http, signals, stop_deadline};

    std::string error = server.start();
    if (error.empty()) error = http.listen(config.metrics.address.host, config.metrics.address.port);
    if (!error.empty()) {
        log::error("main", "cannot start", {{"error", error}});
        server.shutdown(std::chrono::milliseconds(0), nullptr);
        http.stop();
        relay.stop(nullptr);
        io.run_for(std::chrono::seconds(5));
        return 1;
    }
    http.set_admin_token(config.admin.token);
    http.set_readiness([&server, &relay] {
        auto problem = readiness_problem(server, relay);
        return metrics::Readiness{problem.empty(), problem};
    });
    http.set_api_handler(make_admin_handler(relay));
    wait_signals(services);
    // The listeners answer while the queue is recovered (a big backlog takes
    // seconds); the intake refuses mail until the engine runs.
    int exit_code = 0;
    relay.recover([&](std::error_code ec) {
        if (ec) {
            log::error("main", "cannot start the relay", {{"error", ec.message()}});
            exit_code = 1;
            stop(services);
            return;
        }
        log::info("main", "relaypool started",
                  {{"metrics", config.metrics.address.text}, {"queue", config.queue.directory}});
        notify("READY=1");  // listeners bound and the spool recovered
    });
    io.run();
    return exit_code;
}

}  // namespace rp::app
