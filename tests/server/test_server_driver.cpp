// The connection driver against the in-memory spool twin, over a real local
// socket: a 250 after DATA only after the spool's commit completed (the
// commit is held, then released from another thread, as a spool thread
// would), spool failures at begin / append / commit map to 451/452 and leave
// the session usable, and the Received header is the first thing stored.
// The listener is plain (tls: none) with a trusted network, so no TLS or
// AUTH is involved here (the integration tests cover those).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "../loopback_client.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "server/server.hpp"
#include "spool/memory_spool.hpp"

namespace {

rp::config::Config plain_config() {
    auto config = rp::config::load_string(R"(
hostname: relay.test
listeners:
  - name: plain
    address: "127.0.0.1:2525"
    tls: none
    require_auth: false
trusted_networks: ["127.0.0.0/8"]
limits:
  max_message_size: 1000
queue:
  directory: /nonexistent-unused
upstream:
  sandbox: /nonexistent-unused
pool:
  accounts:
    - username: account@agency.example
      password: unused
metrics:
  address: "127.0.0.1:9999"
)",
                                          "test.yaml");
    config.listeners.at(0).address.port = 0;  // any free port (the loader wants 1..65535)
    return config;
}

// The server on its own io_context thread, stopped and joined at the end.
struct Running {
    rp::metrics::Metrics metrics;
    rp::spool::MemorySpool spool;
    boost::asio::io_context io;
    rp::server::Server server;
    std::thread thread;
    std::uint16_t port = 0;

    explicit Running(const rp::config::Config& config) : server(io, config, metrics, spool) {
        auto error = server.start();
        REQUIRE_MESSAGE(error.empty(), error);
        port = server.ports().at(0);
        thread = std::thread([this] { io.run(); });
    }
    ~Running() {
        boost::asio::post(io,
                          [this] { server.shutdown(std::chrono::milliseconds(0), [this] { io.stop(); }); });
        thread.join();
    }
};

// A blocking client socket with a receive timeout (a hang fails, not blocks).
struct Client {
    int fd = -1;
    std::string buffer;

    explicit Client(std::uint16_t port) { fd = rp::test::connect_loopback(port); }
    ~Client() { ::close(fd); }

    void send(const std::string& data) {
        REQUIRE(::send(fd, data.data(), data.size(), 0) == ssize_t(data.size()));
    }

    // One reply (all its lines), "" on EOF or timeout.
    std::string reply() {
        std::string out;
        for (;;) {
            auto eol = buffer.find("\r\n");
            if (eol == std::string::npos) {
                char chunk[4096];
                ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
                if (n <= 0) return out;
                buffer.append(chunk, n);
                continue;
            }
            std::string line = buffer.substr(0, eol + 2);
            buffer.erase(0, eol + 2);
            out += line;
            if (line.size() < 4 || line[3] != '-') return out;
        }
    }
    std::string command(const std::string& line) {
        send(line + "\r\n");
        return reply();
    }
    // True when nothing is readable right now.
    bool nothing_pending() {
        if (!buffer.empty()) return false;
        char c;
        ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    void start_message() {
        REQUIRE(command("MAIL FROM:<a@client.example>").rfind("250", 0) == 0);
        REQUIRE(command("RCPT TO:<b@example.net>").rfind("250", 0) == 0);
        REQUIRE(command("DATA").rfind("354", 0) == 0);
    }
};

Client greeted(Running& r) {
    Client c(r.port);
    REQUIRE(c.reply().rfind("220 relay.test", 0) == 0);
    REQUIRE(c.command("EHLO client.example").rfind("250-relay.test", 0) == 0);
    return c;
}

}  // namespace

TEST_CASE("250 only after the spool commit completed") {
    Running r(plain_config());
    r.spool.hold_commits(true);
    Client c = greeted(r);
    c.start_message();
    c.send("Subject: held\r\n\r\nbody\r\n.\r\n");
    // Wait until the driver has handed the commit to the spool.
    for (int i = 0; i < 1000 && r.spool.held_commits() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE(r.spool.held_commits() == 1);
    CHECK(c.nothing_pending());  // no 250 while the commit is pending
    CHECK(r.spool.list().empty());
    r.spool.release_commits();  // done() runs on this (foreign) thread
    std::string reply = c.reply();
    REQUIRE(reply.rfind("250 2.0.0 Ok: queued as ", 0) == 0);
    std::string id = reply.substr(24, reply.size() - 26);
    REQUIRE(r.spool.list().size() == 1);
    CHECK(r.spool.list()[0] == id);
    auto body = r.spool.read_body(id, 1 << 20);
    REQUIRE(body);
    CHECK(body.value.rfind("Received: from client.example ([127.0.0.1])", 0) == 0);
    CHECK(body.value.find("\r\n\tby relay.test (relaypool) with ESMTP") != std::string::npos);
    const std::string sent = "Subject: held\r\n\r\nbody\r\n";
    REQUIRE(body.value.size() > sent.size());
    CHECK(body.value.substr(body.value.size() - sent.size()) == sent);
}

TEST_CASE("spool failures: 451/452, nothing stored, the session goes on") {
    struct Case {
        const char* name;
        void (*inject)(rp::spool::MemorySpool&);
        const char* expected_prefix;
    };
    const Case cases[] = {
        {"begin refused", [](rp::spool::MemorySpool& s) { s.refuse_begin(true); }, "451 4.3.0"},
        // After the Received header (well under 300 bytes), within the body.
        {"append fails", [](rp::spool::MemorySpool& s) { s.fail_appends_after(300); }, "452 4.3.1"},
        {"commit fails",
         [](rp::spool::MemorySpool& s) { s.fail_commits(1, std::make_error_code(std::errc::io_error)); },
         "451 4.3.0"},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        Running r(plain_config());
        c.inject(r.spool);
        Client client = greeted(r);
        REQUIRE(client.command("MAIL FROM:<a@client.example>").rfind("250", 0) == 0);
        REQUIRE(client.command("RCPT TO:<b@example.net>").rfind("250", 0) == 0);
        std::string data = client.command("DATA");
        if (data.rfind("354", 0) == 0) {
            client.send("Subject: x\r\n\r\n" + std::string(500, 'b') + "\r\n.\r\n");
            data = client.reply();
        }
        CHECK_MESSAGE(data.rfind(c.expected_prefix, 0) == 0, data);
        CHECK(r.spool.list().empty());
        CHECK(client.command("RSET").rfind("250", 0) == 0);
    }
}

TEST_CASE("oversize while streaming: 552, nothing stored") {
    Running r(plain_config());
    Client c = greeted(r);
    c.start_message();
    c.send("Subject: big\r\n\r\n" + std::string(2000, 'x') + "\r\n.\r\n");
    CHECK(c.reply() == "552 5.3.4 Message size exceeds fixed limit\r\n");
    CHECK(r.spool.list().empty());
    CHECK(c.command("NOOP") == "250 2.0.0 Ok\r\n");
}

TEST_CASE("shutdown: an idle session gets 421 4.3.2") {
    auto config = plain_config();
    std::promise<void> drained;
    rp::metrics::Metrics metrics;
    rp::spool::MemorySpool spool;
    boost::asio::io_context io;
    rp::server::Server server(io, config, metrics, spool);
    REQUIRE(server.start().empty());
    std::thread thread([&] { io.run(); });
    {
        Client c(server.ports().at(0));
        REQUIRE(c.reply().rfind("220", 0) == 0);
        REQUIRE(c.command("EHLO x").rfind("250", 0) == 0);
        boost::asio::post(io,
                          [&] { server.shutdown(std::chrono::seconds(5), [&] { drained.set_value(); }); });
        CHECK(c.reply().rfind("421 4.3.2 relay.test", 0) == 0);
        CHECK(c.reply().empty());  // closed
    }
    drained.get_future().wait();
    io.stop();
    thread.join();
}
