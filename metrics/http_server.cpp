// Beast HTTP/1.1 server for /metrics, /healthz, /readyz and the admin API
// (see http_server.hpp). One coroutine per connection on the io_context's
// thread; every coroutine holds the shared Impl so destruction order between
// the server object and the io_context does not matter.
#include "metrics/http_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <list>
#include <map>
#include <optional>

#include "common/await_callback.hpp"
#include "common/log.hpp"
#include "common/log_throttle.hpp"
#include "metrics/admin_access.hpp"
#include "metrics/metrics.hpp"

namespace rp::metrics {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

constexpr std::size_t kMaxBody = 1 << 20;
constexpr auto kRequestTimeout = std::chrono::seconds(30);
// Scrapers and the admin CLI need a handful of connections; the cap keeps
// idle or slow clients from taking the process's file descriptors.
constexpr std::size_t kMaxConnections = 64;
// Per source address, so that one host (a scanner, a stuck client) cannot
// take every slot and lock out the health checks and Prometheus.
constexpr std::size_t kMaxConnectionsPerAddress = 8;
// Refused admin requests: any peer can cause them, so one line a minute.
constexpr auto kRefusalLogInterval = std::chrono::minutes(1);
constexpr std::size_t kLoggedHeaderBytes = 100;
// accept() failing (EMFILE, ENFILE, ENOBUFS) would fail again at once: wait.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kAcceptLogInterval = std::chrono::seconds(10);

HttpResponse text(int status, std::string body) {
    return HttpResponse{status, "text/plain; charset=utf-8", std::move(body)};
}

HttpRequest to_request(const http::request<http::string_body>& req) {
    HttpRequest out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    auto q = out.target.find('?');
    out.path = out.target.substr(0, q);
    if (q != std::string::npos) out.query = out.target.substr(q + 1);
    out.body = req.body();
    return out;
}

// The peer's address (IPv4-mapped IPv6 as IPv4); nullopt when the socket
// has no peer any more.
std::optional<net::ip::address> peer_address(const tcp::socket& socket) {
    beast::error_code ec;
    auto address = socket.remote_endpoint(ec).address();
    if (ec) return std::nullopt;
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    return address;
}

std::string clipped(const std::optional<std::string>& value) {
    std::string v = value.value_or("");
    if (v.size() > kLoggedHeaderBytes) v = v.substr(0, kLoggedHeaderBytes) + "...";
    return v;
}

std::optional<std::string> header(const http::request<http::string_body>& req, http::field field) {
    auto it = req.find(field);
    if (it == req.end()) return std::nullopt;
    return std::string(it->value());
}

bool bearer_ok(const http::request<http::string_body>& req, const std::string& token) {
    if (token.empty()) return true;
    auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    std::string value(it->value());
    constexpr std::string_view prefix = "Bearer ";
    if (value.size() < prefix.size() || value.compare(0, prefix.size(), prefix) != 0) return false;
    return secret_equal(value.substr(prefix.size()), token);
}

}  // namespace

bool secret_equal(const std::string& a, const std::string& b) {
    // Walk the longer length so the time depends only on the lengths.
    std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(net::io_context& io, Metrics& m) : io(io), metrics(m), acceptor(io) {}

    net::io_context& io;
    Metrics& metrics;
    tcp::acceptor acceptor;
    ReadinessCheck readiness;
    ApiHandler api;
    std::string token;
    std::string configured_host;         // metrics.address's host: a Host the admin API accepts
    std::list<beast::tcp_stream*> open;  // for stop()
    std::size_t connections = 0;         // counted at accept, before serve() starts
    std::map<std::string, std::size_t> connections_from;  // by peer address
    LogThrottle refusal_log{kRefusalLogInterval};
    LogThrottle token_failure_log{kRefusalLogInterval};
    bool stopped = false;

    // A connection's share of the counts, given back however serve() ends
    // (it keeps the Impl alive itself: a coroutine's parameters outlive its
    // locals).
    struct Slot {
        std::shared_ptr<Impl> impl;
        std::string address;
        Slot(std::shared_ptr<Impl> i, std::string a) : impl(std::move(i)), address(std::move(a)) {
            ++impl->connections;
            ++impl->connections_from[address];
        }
        ~Slot() {
            --impl->connections;
            if (--impl->connections_from[address] == 0) impl->connections_from.erase(address);
        }
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
    };

    net::awaitable<void> accept_loop();
    net::awaitable<void> serve(tcp::socket socket, std::shared_ptr<Slot> slot, bool peer_is_loopback);
    net::awaitable<HttpResponse> route(const http::request<http::string_body>& req, bool peer_is_loopback);
    net::awaitable<HttpResponse> call_api(HttpRequest request);
};

// Accept errors back off (never spin) and are logged at most once per
// kAcceptLogInterval with the number of failures since the last line.
// Over kMaxConnections a new connection is closed at once.
net::awaitable<void> HttpServer::Impl::accept_loop() {
    auto self = shared_from_this();
    net::steady_timer backoff(io);
    LogThrottle accept_log(kAcceptLogInterval);
    while (!stopped) {
        auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
        if (ec) {
            if (ec == net::error::operation_aborted || stopped) co_return;
            if (auto failures = accept_log.hit(std::chrono::steady_clock::now()))
                log::warn("http", "accept failed",
                          {{"error", ec.message()}, {"failures", std::to_string(failures)}});
            backoff.expires_after(kAcceptBackoff);
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        const auto peer = peer_address(socket);
        const std::string address = peer ? peer->to_string() : "";
        auto from = connections_from.find(address);
        if (!peer || connections >= kMaxConnections ||
            (from != connections_from.end() && from->second >= kMaxConnectionsPerAddress)) {
            log::debug("http", "too many connections, closing a new one", {{"peer", address}});
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        auto slot = std::make_shared<Slot>(self, address);
        net::co_spawn(io, serve(std::move(socket), std::move(slot), peer->is_loopback()),
                      [](std::exception_ptr e) {
                          if (!e) return;
                          try {
                              std::rethrow_exception(e);
                          } catch (const std::exception& ex) {
                              log::error("http", "connection failed (bug)", {{"error", ex.what()}});
                          }
                      });
    }
}

// Bridges the callback API (Respond may run on any thread) to an awaitable.
net::awaitable<HttpResponse> HttpServer::Impl::call_api(HttpRequest request) {
    ApiHandler* handler = &api;
    return await_callback<HttpResponse>(
        [handler, request = std::move(request)](std::function<void(HttpResponse)> done) {
            (*handler)(request, std::move(done));
        });
}

net::awaitable<HttpResponse> HttpServer::Impl::route(const http::request<http::string_body>& req,
                                                     bool peer_is_loopback) {
    HttpRequest request = to_request(req);
    if (request.path.rfind("/api/v1/", 0) == 0 || request.path == "/api/v1") {
        AdminRequestFacts facts{!token.empty(),
                                peer_is_loopback,
                                header(req, http::field::origin),
                                header(req, http::field::host),
                                configured_host,
                                std::nullopt};
        if (auto site = req.find("Sec-Fetch-Site"); site != req.end())
            facts.fetch_site = std::string(site->value());
        std::string refusal = admin_refusal(facts);
        if (!refusal.empty()) {
            if (auto n = refusal_log.hit(LogThrottle::Clock::now()))
                log::info("http", "admin request refused",
                          {{"method", request.method},
                           {"reason", refusal},
                           {"origin", clipped(facts.origin)},
                           {"host", clipped(facts.host)},
                           {"count", std::to_string(n)}});
            co_return text(403, refusal + "\n");
        }
        if (!bearer_ok(req, token)) {
            // A guesser shows in the log (one line a minute, with the count).
            if (auto n = token_failure_log.hit(LogThrottle::Clock::now()))
                log::warn("http", "admin request with a missing or wrong token",
                          {{"count", std::to_string(n)}});
            co_return text(401, "missing or wrong admin token\n");
        }
        if (!api) co_return text(404, "no admin API\n");
        // Await into a local first: GCC 12 miscompiles `co_return co_await f(by_value)`.
        HttpResponse response = co_await call_api(std::move(request));
        co_return response;
    }
    if (req.method() != http::verb::get && req.method() != http::verb::head)
        co_return text(405, "method not allowed\n");
    if (request.path == "/metrics")
        co_return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics.serialize()};
    if (request.path == "/healthz") co_return text(200, "ok\n");
    if (request.path == "/readyz") {
        Readiness r = readiness ? readiness() : Readiness{};
        co_return r.ready ? text(200, "ready\n") : text(503, r.reason + "\n");
    }
    co_return text(404, "not found\n");
}

net::awaitable<void> HttpServer::Impl::serve(tcp::socket socket, std::shared_ptr<Slot> slot,
                                             bool peer_is_loopback) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    // Unregistered however the coroutine ends (stop() must never see a
    // stream that is gone).
    struct Registration {
        std::list<beast::tcp_stream*>& list;
        std::list<beast::tcp_stream*>::iterator it;
        ~Registration() { list.erase(it); }
    } registration{open, open.insert(open.end(), &stream)};
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBody);
        stream.expires_after(kRequestTimeout);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        if (ec) break;
        auto& req = parser.get();
        HttpResponse r = co_await route(req, peer_is_loopback);
        http::response<http::string_body> res{static_cast<http::status>(r.status), req.version()};
        res.set(http::field::server, "relaypool");
        res.set(http::field::content_type, r.content_type);
        res.keep_alive(req.keep_alive() && !stopped);
        if (req.method() != http::verb::head) res.body() = std::move(r.body);
        res.prepare_payload();
        stream.expires_after(kRequestTimeout);
        auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
        if (wec || !res.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

bool admin_peer_allowed(bool token_configured, bool peer_is_loopback) {
    return token_configured || peer_is_loopback;
}

HttpServer::HttpServer(net::io_context& io, Metrics& metrics) : impl_(std::make_shared<Impl>(io, metrics)) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::set_readiness(ReadinessCheck check) {
    impl_->readiness = std::move(check);
}
void HttpServer::set_api_handler(ApiHandler handler) {
    impl_->api = std::move(handler);
}
void HttpServer::set_admin_token(std::string token) {
    impl_->token = std::move(token);
}

std::string HttpServer::listen(const std::string& host, std::uint16_t port) {
    boost::system::error_code ec;
    auto& io = impl_->io;
    tcp::endpoint endpoint;
    auto address = net::ip::make_address(host, ec);
    if (!ec) {
        endpoint = tcp::endpoint(address, port);
    } else {
        // A host name: resolved once, the first address wins.
        tcp::resolver resolver(io);
        auto results = resolver.resolve(host, std::to_string(port), ec);
        if (ec || results.empty()) return "metrics.address: cannot resolve " + host;
        endpoint = results.begin()->endpoint();
    }
    impl_->configured_host = host;
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        return "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    }
    net::co_spawn(io, impl_->accept_loop(), net::detached);
    return {};
}

std::uint16_t HttpServer::port() const {
    boost::system::error_code ec;
    auto ep = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

void HttpServer::stop() {
    impl_->stopped = true;
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    for (auto* stream : impl_->open) stream->socket().close(ec);
}

}  // namespace rp::metrics
