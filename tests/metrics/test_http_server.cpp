// The operations HTTP endpoint over a real local socket: routes, readiness
// reasons, the admin token (missing / wrong / right, constant-time compare),
// an admin handler that answers later from another thread, and the cap on
// open connections.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../loopback_client.hpp"
#include "metrics/http_server.hpp"
#include "metrics/metrics.hpp"

using rp::metrics::HttpRequest;
using rp::metrics::HttpResponse;
using rp::metrics::HttpServer;

namespace {

// One HTTP/1.0-style exchange (Connection: close); returns the raw response.
std::string request(std::uint16_t port, const std::string& text, const char* from = nullptr) {
    int fd = rp::test::connect_loopback(port, from);
    REQUIRE(::send(fd, text.data(), text.size(), 0) == ssize_t(text.size()));
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, n);
    ::close(fd);
    return out;
}

// A connected socket with a 10 s receive timeout; the caller closes it.
int connect_to(std::uint16_t port, const char* from = nullptr) {
    return rp::test::connect_loopback(port, from);
}

std::string get(std::uint16_t port, const std::string& target, const std::string& headers = "") {
    return request(
        port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n");
}

int status_of(const std::string& response) {
    return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}

std::string body_of(const std::string& response) {
    auto p = response.find("\r\n\r\n");
    return p == std::string::npos ? "" : response.substr(p + 4);
}

struct Running {
    rp::metrics::Metrics metrics;
    boost::asio::io_context io;
    HttpServer http{io, metrics};
    std::thread thread;
    bool ready = true;

    Running() {
        http.set_readiness([this] {
            return rp::metrics::Readiness{ready, ready ? "" : "queue directory not writable"};
        });
        REQUIRE(http.listen("127.0.0.1", 0).empty());
        thread = std::thread([this] { io.run(); });
    }
    ~Running() {
        boost::asio::post(io, [this] { http.stop(); });
        thread.join();
    }
};

}  // namespace

TEST_CASE("secret_equal") {
    struct Case {
        std::string a, b;
        bool equal;
    };
    for (const auto& c : {Case{"", "", true}, Case{"token", "token", true}, Case{"token", "tokem", false},
                          Case{"token", "token2", false}, Case{"", "x", false}, Case{"x", "", false}}) {
        CAPTURE(c.a);
        CAPTURE(c.b);
        CHECK(rp::metrics::secret_equal(c.a, c.b) == c.equal);
    }
}

TEST_CASE("routes: health, readiness, metrics, unknown") {
    Running r;
    r.metrics.message_accepted("submission");
    auto port = r.http.port();
    REQUIRE(port != 0);
    CHECK(status_of(get(port, "/healthz")) == 200);
    CHECK(status_of(get(port, "/readyz")) == 200);
    auto metrics = get(port, "/metrics");
    CHECK(status_of(metrics) == 200);
    CHECK(body_of(metrics).find("relaypool_messages_accepted_total{listener=\"submission\"} 1") !=
          std::string::npos);
    CHECK(status_of(get(port, "/nothing")) == 404);
    CHECK(
        status_of(request(
            port,
            "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")) ==
        405);
    CHECK(status_of(get(port, "/api/v1/queue")) == 404);  // no admin handler installed
    r.ready = false;
    auto not_ready = get(port, "/readyz");
    CHECK(status_of(not_ready) == 503);
    CHECK(body_of(not_ready) == "queue directory not writable\n");
}

TEST_CASE("admin API: bearer token and a reply from another thread") {
    Running r;
    std::thread worker;
    boost::asio::post(r.io, [&] {
        r.http.set_admin_token("s3cret");
        r.http.set_api_handler([&worker](const HttpRequest& req, HttpServer::Respond respond) {
            std::string echo = req.method + " " + req.path + " q=" + req.query + " body=" + req.body;
            worker = std::thread([respond, echo] { respond(HttpResponse{200, "application/json", echo}); });
        });
    });
    auto port = r.http.port();
    struct Case {
        std::string headers;
        int status;
    };
    for (const auto& c :
         {Case{"", 401}, Case{"Authorization: Bearer wrong\r\n", 401},
          Case{"Authorization: Basic s3cret\r\n", 401}, Case{"Authorization: Bearer s3cret2\r\n", 401}}) {
        CAPTURE(c.headers);
        CHECK(status_of(get(port, "/api/v1/queue", c.headers)) == c.status);
    }
    // Never a token for these.
    CHECK(status_of(get(port, "/metrics")) == 200);
    auto ok = request(
        port,
        "POST /api/v1/pool/a%40b/pause?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer s3cret\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
    if (worker.joinable()) worker.join();
    CHECK(status_of(ok) == 200);
    CHECK(body_of(ok) == "POST /api/v1/pool/a%40b/pause q=x=1 body={}");
}

namespace {
// Closed without an answer: EOF, not the 10 s receive timeout of an idle one.
bool closed_at_once(int fd) {
    char byte = 0;
    bool eof = ::recv(fd, &byte, 1, 0) == 0;
    ::close(fd);
    return eof;
}

std::string healthz_from(std::uint16_t port, const char* from) {
    return request(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", from);
}
}  // namespace

TEST_CASE("at most 8 connections per address: one host cannot lock out the health checks") {
    Running r;
    auto port = r.http.port();
    std::vector<int> idle;
    for (int i = 0; i < 8; ++i) idle.push_back(connect_to(port, "127.0.0.5"));
    // Accepted in order, so the 9th finds the 8 counted.
    CHECK(closed_at_once(connect_to(port, "127.0.0.5")));
    CHECK(status_of(healthz_from(port, "127.0.0.6")) == 200);  // another host is served
    ::close(idle.back());
    idle.pop_back();
    // The freed slot is released asynchronously: retry briefly.
    int status = 0;
    for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
        status = status_of(healthz_from(port, "127.0.0.5"));
        if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == 200);
    for (int fd : idle) ::close(fd);
}

TEST_CASE("at most 64 connections: one more is closed at once, a freed slot serves again") {
    Running r;
    auto port = r.http.port();
    std::vector<int> idle;
    for (int host = 0; host < 8; ++host) {
        const std::string from = "127.0.1." + std::to_string(host + 1);
        for (int i = 0; i < 8; ++i) idle.push_back(connect_to(port, from.c_str()));
    }
    CHECK(closed_at_once(connect_to(port, "127.0.2.1")));  // a 65th, from a fresh address
    ::close(idle.back());
    idle.pop_back();
    int status = 0;
    for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
        status = status_of(healthz_from(port, "127.0.2.1"));
        if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(status == 200);
    for (int fd : idle) ::close(fd);
}
