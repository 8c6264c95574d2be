// The admin client: --admin URL parsing as a table, and call() against real
// local sockets for the failure cases the CLI maps to exit 3 (refused, no
// answer within the timeout, garbage) and a plain success.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "app/admin_client.hpp"

using namespace rp::app::admin;

TEST_CASE("parse_admin_url: accepted forms") {
    struct Row {
        const char* text;
        const char* host;
        std::uint16_t port;
        const char* prefix;
    };
    const std::vector<Row> rows = {
        {"http://127.0.0.1:9090", "127.0.0.1", 9090, ""},
        {"http://127.0.0.1:9090/", "127.0.0.1", 9090, ""},
        {"http://localhost", "localhost", 80, ""},
        {"http://relay.internal:8080/ops/relaypool/", "relay.internal", 8080, "/ops/relaypool"},
        {"http://[::1]:9090", "::1", 9090, ""},
        {"http://[::1]", "::1", 80, ""},
        {"http://h:65535/x", "h", 65535, "/x"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        auto got = parse_admin_url(r.text);
        REQUIRE(got.url.has_value());
        CHECK(got.url->host == r.host);
        CHECK(got.url->port == r.port);
        CHECK(got.url->prefix == r.prefix);
        CHECK(got.url->text == r.text);
    }
}

TEST_CASE("parse_admin_url: refused forms name the problem") {
    struct Row {
        const char* text;
        const char* reason;
    };
    const std::vector<Row> rows = {
        {"https://127.0.0.1:9090", "https is not supported"},
        {"127.0.0.1:9090", "expected http://"},
        {"ftp://x", "expected http://"},
        {"http://", "no host"},
        {"http://:9090", "no host"},
        {"http://h:", "empty port"},
        {"http://h:0", "port must be"},
        {"http://h:65536", "port must be"},
        {"http://h:90x", "port must be"},
        {"http://[::1", "unclosed"},
        {"http://[::1]x", "expected ':'"},
        {"http://u:p@h:1", "no user info"},
        {"http://h:1/a?b", "no query"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        auto got = parse_admin_url(r.text);
        CHECK_FALSE(got.url.has_value());
        CHECK(got.error.find(r.reason) != std::string::npos);
    }
}

namespace {

// A listening socket on 127.0.0.1 with an ephemeral port; optionally one
// accepted connection answered with `answer` (after reading the request).
struct Listener {
    int fd = -1;
    std::uint16_t port = 0;
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
    // Accepts one connection, reads up to the blank line, writes `answer`.
    std::string serve_once(const std::string& answer) {
        int c = ::accept(fd, nullptr, nullptr);
        std::string request;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            auto n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            request.append(buf, static_cast<std::size_t>(n));
        }
        if (!answer.empty()) (void)!::write(c, answer.data(), answer.size());
        ::close(c);
        return request;
    }
};

AdminUrl local(std::uint16_t port, const std::string& prefix = "") {
    return *parse_admin_url("http://127.0.0.1:" + std::to_string(port) + prefix).url;
}

}  // namespace

TEST_CASE("call: a refused connection is an error naming the URL, not a reply") {
    std::uint16_t port;
    {
        Listener l;
        port = l.port;
    }  // closed: nothing listens there now
    auto r = call(local(port), "GET", "/api/v1/queue", "");
    CHECK_FALSE(r.reply.has_value());
    CHECK(r.error.find("cannot reach the admin API at http://127.0.0.1:" + std::to_string(port)) == 0);
    CHECK(r.error.find("refused") != std::string::npos);
}

TEST_CASE("call: a server that accepts but never answers is a timeout error") {
    Listener l;  // the kernel completes the handshake; nobody reads
    auto r = call(local(l.port), "GET", "/api/v1/queue", "", std::chrono::milliseconds(300));
    CHECK_FALSE(r.reply.has_value());
    CHECK(r.error.find("timed out") != std::string::npos);
}

TEST_CASE("call: sends method, prefixed path and bearer token; returns status and body") {
    Listener l;
    std::string request;
    std::thread server([&] {
        request = l.serve_once(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 17\r\n"
            "Connection: close\r\n\r\n{\"error\":\"gone\"}\n");
    });
    auto r = call(local(l.port, "/ops"), "DELETE", "/api/v1/queue/abc", "s3cret-token");
    server.join();
    REQUIRE(r.reply.has_value());
    CHECK(r.reply->status == 404);
    CHECK(r.reply->body == "{\"error\":\"gone\"}\n");
    CHECK(request.starts_with("DELETE /ops/api/v1/queue/abc HTTP/1.1\r\n"));
    CHECK(request.find("\r\nAuthorization: Bearer s3cret-token\r\n") != std::string::npos);
}

TEST_CASE("call: no token, no Authorization header; garbage instead of HTTP is an error") {
    Listener l;
    std::string request;
    std::thread server([&] { request = l.serve_once("SSH-2.0-OpenSSH_9.2\r\n"); });
    auto r = call(local(l.port), "GET", "/api/v1/pool", "");
    server.join();
    CHECK_FALSE(r.reply.has_value());
    CHECK(r.error.find("no valid HTTP answer from the admin API at http://127.0.0.1:") == 0);
    CHECK(request.find("Authorization") == std::string::npos);
}
