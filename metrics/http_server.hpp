// The operations HTTP/1.1 endpoint on metrics.address (SPEC.md Operations):
// GET /metrics (Prometheus text), /healthz (200 while running), /readyz
// (200, or 503 with the reason from the readiness check), and /api/v1/* routed
// to one handler installed by app/ (the admin API). When an admin token is set,
// /api/v1/* needs "Authorization: Bearer <token>" (constant-time compare) and
// answers 401 otherwise; without a token /api/v1/* answers only loopback
// clients with a loopback (or metrics.address) Host and no foreign Origin
// (403 otherwise; metrics/admin_access.hpp); /metrics, /healthz, /readyz
// never need it.
//
// Runs on the caller's io_context (single thread). Beast stays inside the
// .cpp. Requests are bounded (1 MiB body, 30 s per request); at most 64
// connections are open at once (more are closed at once); accept errors
// (EMFILE) back off 100 ms and are logged at most every 10 s. Used by app/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace rp::metrics {

class Metrics;

struct HttpRequest {
    std::string method;  // "GET", "POST", ...
    std::string target;  // as sent: path + query
    std::string path;    // without the query
    std::string query;   // after '?', "" when none
    std::string body;
};

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

struct Readiness {
    bool ready = true;
    std::string reason;  // body of the 503
};

class HttpServer {
  public:
    using ReadinessCheck = std::function<Readiness()>;
    // Call exactly once, from any thread.
    using Respond = std::function<void(HttpResponse)>;
    using ApiHandler = std::function<void(const HttpRequest&, Respond)>;

    HttpServer(boost::asio::io_context& io, Metrics& metrics);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Set before or after listen(); called on the event loop.
    void set_readiness(ReadinessCheck check);
    void set_api_handler(ApiHandler handler);
    void set_admin_token(std::string token);  // "" = admin API open (bind it to localhost)

    // Binds and starts accepting. Returns "" or an error text.
    std::string listen(const std::string& host, std::uint16_t port);
    std::uint16_t port() const;  // the bound port (useful with port 0)
    // Closes the listener and every open HTTP connection.
    void stop();

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

// Who may use the admin API: with a token configured, anyone presenting it
// (checked separately); without one, only clients on the loopback
// interface, so metrics.address may listen on 0.0.0.0 for Prometheus
// without exposing queue and pool control to the network (403 otherwise).
bool admin_peer_allowed(bool token_configured, bool peer_is_loopback);

// Constant-time string comparison for secrets (the time does not depend on
// where the strings differ).
bool secret_equal(const std::string& a, const std::string& b);

}  // namespace rp::metrics
