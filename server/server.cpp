// Server facade: settings snapshots, listeners, the accept loops, reload and
// graceful shutdown (see server.hpp).
#include "server/server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>
#include <utility>

#include "common/log.hpp"
#include "common/log_throttle.hpp"
#include "protocol/reply.hpp"
#include "server/connection.hpp"
#include "server/tls_context.hpp"

namespace rp::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// accept() failing (EMFILE, ENFILE, ENOBUFS) would fail again at once.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

bool needs_tls(const config::Config& config) {
    for (const auto& l : config.listeners)
        if (l.tls != config::ListenerTls::none) return true;
    return false;
}

ConnectionLimits::Settings limit_settings(const config::Config& config) {
    return {config.limits.max_connections, config.limits.max_connections_per_ip};
}

// An IP literal, or a name resolved once at start (the first address wins).
std::optional<tcp::endpoint> listen_endpoint(net::io_context& io, const config::Endpoint& address) {
    boost::system::error_code ec;
    auto ip = net::ip::make_address(address.host, ec);
    if (!ec) return tcp::endpoint(ip, address.port);
    tcp::resolver resolver(io);
    auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
    if (ec || results.empty()) return std::nullopt;
    return results.begin()->endpoint();
}

std::string bind(net::io_context& io, ListenerState& listener) {
    const auto& address = listener.config.address;
    auto endpoint = listen_endpoint(io, address);
    if (!endpoint) return "listener " + listener.config.name + ": cannot resolve " + address.host;
    boost::system::error_code ec;
    auto& acceptor = listener.acceptor;
    acceptor.open(endpoint->protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    // "[::]:587" and "0.0.0.0:587" may both be configured (docs/configuration.md).
    if (!ec && endpoint->address().is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(*endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        return "listener " + listener.config.name + ": cannot listen on " + address.text + ": " +
               ec.message();
    return {};
}

bool same_networks(const std::vector<config::Cidr>& a, const std::vector<config::Cidr>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const config::Cidr& x, const config::Cidr& y) { return x.text == y.text; });
}

}  // namespace

std::shared_ptr<const Settings> make_settings(const config::Config& config, std::string& error) {
    auto settings = std::make_shared<Settings>();
    settings->config = config;
    if (needs_tls(config)) {
        auto tls = make_tls_context(config.tls, config.hostname);
        if (!tls.context) {
            error = tls.error;
            return nullptr;
        }
        settings->tls = std::move(tls.context);
    }
    for (const auto& user : config.users) settings->password_hashes[user.username] = user.password_hash;
    if (!config.users.empty()) settings->decoy_hash = config.users.front().password_hash;
    return settings;
}

void Server::Core::remove(std::list<Connection*>::iterator it) {
    connections.erase(it);
    if (stopping && connections.empty() && on_drained) {
        grace_timer.cancel();
        net::post(io, std::exchange(on_drained, nullptr));
    }
}

// Over max_connections: one best-effort non-blocking write of the 421 (no
// coroutine, no buffer, no TLS handshake) and close at once, so an overload
// never queues sockets. Implicit-TLS clients just see the close.
void Server::Core::refuse_overloaded(tcp::socket& socket, const ListenerState& listener) {
    boost::system::error_code ec;
    if (listener.config.tls != config::ListenerTls::implicit) {
        auto reply =
            protocol::Reply::make(421, protocol::esc::shutting_down,
                                  settings->config.hostname + " Too many connections, try again later")
                .format();
        socket.non_blocking(true, ec);
        socket.write_some(net::buffer(reply), ec);
    }
    socket.close(ec);
    log::debug("smtpd", "too many connections", {{"listener", listener.config.name}});
}

net::awaitable<void> Server::Core::accept_loop(ListenerState& listener) {
    auto self = shared_from_this();
    net::steady_timer backoff(io);
    LogThrottle accept_log(kAcceptLogInterval);
    while (!stopping) {
        auto [ec, socket] = co_await listener.acceptor.async_accept(use_tuple);
        if (stopping) co_return;
        if (ec) {
            if (ec == net::error::operation_aborted) co_return;
            // EMFILE and friends: back off briefly instead of spinning, and
            // log one line per interval with the count.
            if (auto failures = accept_log.hit(std::chrono::steady_clock::now()))
                log::warn("smtpd", "accept failed",
                          {{"listener", listener.config.name},
                           {"error", ec.message()},
                           {"failures", std::to_string(failures)}});
            backoff.expires_after(kAcceptBackoff);
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        // Replies are written whole and pipelined; Nagle would only hold a
        // reply back until the client's delayed ACK (~40 ms per exchange).
        boost::system::error_code nodelay_ec;
        socket.set_option(net::ip::tcp::no_delay(true), nodelay_ec);
        auto slot = limits->try_connection();
        if (!slot) {
            refuse_overloaded(socket, listener);
            continue;
        }
        auto connection =
            std::make_shared<Connection>(self, listener.config, std::move(socket), std::move(slot));
        net::co_spawn(io, Connection::run(std::move(connection)), [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                log::error("smtpd", "session failed (bug)", {{"error", ex.what()}});
            }
        });
    }
}

Server::Server(net::io_context& io, const config::Config& config, metrics::Metrics& metrics,
               spool::SpoolIntake& intake)
    : core_(std::make_shared<Core>(io, metrics, intake)) {
    for (const auto& l : config.listeners) core_->listeners.push_back(std::make_unique<ListenerState>(io, l));
    core_->limits = ConnectionLimits::create(limit_settings(config));
    core_->start_config = config;
}

Server::~Server() {
    boost::system::error_code ec;
    core_->stopping = true;
    for (auto& l : core_->listeners) l->acceptor.close(ec);
    for (auto* c : core_->connections) c->force_close();
}

std::string Server::start() {
    std::string error;
    core_->settings = make_settings(core_->start_config, error);
    if (!core_->settings) return error;
    for (auto& l : core_->listeners) {
        error = bind(core_->io, *l);
        if (!error.empty()) {
            boost::system::error_code ec;
            for (auto& other : core_->listeners) other->acceptor.close(ec);
            return error;
        }
    }
    for (auto& l : core_->listeners) {
        net::co_spawn(core_->io, core_->accept_loop(*l), net::detached);
        boost::system::error_code ec;
        auto bound = l->acceptor.local_endpoint(ec);
        std::string address =
            ec ? l->config.address.text : bound.address().to_string() + ":" + std::to_string(bound.port());
        log::info("smtpd", "listening", {{"listener", l->config.name}, {"address", address}});
    }
    core_->listening = true;
    return {};
}

std::string Server::reload(const config::Config& config) {
    std::string error;
    auto settings = make_settings(config, error);
    if (!settings) return error;
    for (const auto& l : config.listeners) {
        bool same = false;
        for (const auto& existing : core_->listeners)
            same =
                same || (existing->config.name == l.name && existing->config.address.text == l.address.text &&
                         existing->config.tls == l.tls && existing->config.require_auth == l.require_auth &&
                         existing->config.proxy_protocol == l.proxy_protocol &&
                         same_networks(existing->config.proxy_protocol_from, l.proxy_protocol_from));
        if (!same) log::warn("smtpd", "listener changes apply after a restart", {{"listener", l.name}});
    }
    core_->settings = std::move(settings);
    core_->limits->update(limit_settings(config));
    return {};
}

void Server::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
    auto& core = *core_;
    core.stopping = true;
    core.listening = false;
    boost::system::error_code ec;
    for (auto& l : core.listeners) l->acceptor.close(ec);
    core.on_drained = std::move(done);
    if (core.connections.empty()) {
        if (core.on_drained) net::post(core.io, std::exchange(core.on_drained, nullptr));
        return;
    }
    log::info("smtpd", "closing sessions", {{"sessions", std::to_string(core.connections.size())}});
    for (auto* c : core.connections) c->request_stop();
    core.grace_timer.expires_after(grace);
    core.grace_timer.async_wait([core = core_](boost::system::error_code ec) {
        if (ec) return;
        for (auto* c : core->connections) c->force_close();
    });
}

bool Server::listening() const {
    return core_->listening;
}
std::size_t Server::sessions() const {
    return core_->connections.size();
}

std::vector<std::uint16_t> Server::ports() const {
    std::vector<std::uint16_t> ports;
    for (const auto& l : core_->listeners) {
        boost::system::error_code ec;
        auto ep = l->acceptor.local_endpoint(ec);
        ports.push_back(ec ? 0 : ep.port());
    }
    return ports;
}

}  // namespace rp::server
