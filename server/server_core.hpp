// Shared state of the submission server (internal to server/): the settings
// snapshot of the current (re)load, the listeners, the limits, the AUTH
// worker threads and password-guessing limiter, and the registry of open connections used at shutdown.
//
// Invariants: touched only on the io_context's thread (AuthWorkers results
// are posted back). A Settings snapshot is immutable once published; each
// connection keeps the one it started with (shared_ptr), so SIGHUP never
// changes a session in flight. Core outlives every connection coroutine
// (they hold a shared_ptr to it).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log_throttle.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "server/auth_limiter.hpp"
#include "server/auth_workers.hpp"
#include "server/connection_limits.hpp"
#include "server/server.hpp"
#include "spool/spool_intake.hpp"

namespace rp::server {

class Connection;

struct Settings {
    config::Config config;
    std::shared_ptr<boost::asio::ssl::context> tls;                // null when no listener needs TLS
    std::unordered_map<std::string, std::string> password_hashes;  // username -> crypt hash
    // What an unknown username is checked against (the result discarded):
    // the first configured user's hash, so that it costs that scheme and
    // cost ($2b$ at cost 12 is far slower than default yescrypt, and the
    // difference would tell which names exist). "": AuthWorkers' own decoy.
    std::string decoy_hash;
};

struct ListenerState {
    ListenerState(boost::asio::io_context& io, config::Listener c) : config(std::move(c)), acceptor(io) {}
    config::Listener config;
    boost::asio::ip::tcp::acceptor acceptor;
};

struct Server::Core : std::enable_shared_from_this<Server::Core> {
    Core(boost::asio::io_context& io, metrics::Metrics& m, spool::SpoolIntake& i)
        : io(io), metrics(m), intake(i), grace_timer(io) {}

    boost::asio::io_context& io;
    metrics::Metrics& metrics;
    spool::SpoolIntake& intake;
    config::Config start_config;               // what start() builds the first snapshot from
    std::shared_ptr<const Settings> settings;  // null until start()
    std::shared_ptr<ConnectionLimits> limits;
    AuthWorkers auth{2};
    AuthLimiter auth_limiter;  // failures across connections; survives reloads
    std::vector<std::unique_ptr<ListenerState>> listeners;
    std::list<Connection*> connections;
    bool listening = false;
    bool stopping = false;
    std::function<void()> on_drained;
    boost::asio::steady_timer grace_timer;
    // A PROXY listener refusing a peer outside proxy_protocol_from: usually
    // a load balancer missing from that list, so worth a warning, but any
    // host can cause it, so at most one line a minute.
    LogThrottle proxy_refused_log{std::chrono::minutes(1)};
    LogThrottle address_limit_log{std::chrono::minutes(1)};  // max_connections_per_ip refusals

    boost::asio::awaitable<void> accept_loop(ListenerState& listener);
    void refuse_overloaded(boost::asio::ip::tcp::socket& socket, const ListenerState& listener);
    std::list<Connection*>::iterator add(Connection* c) { return connections.insert(connections.end(), c); }
    void remove(std::list<Connection*>::iterator it);
};

// The settings snapshot for `config` (builds the TLS context when any
// listener uses TLS). "" or an error in `error`.
std::shared_ptr<const Settings> make_settings(const config::Config& config, std::string& error);

}  // namespace rp::server
