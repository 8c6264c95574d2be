// SmtpStream after close(): a TLS session suspended elsewhere (an AUTH
// failure delay, a spool commit) may still try to write when shutdown has
// force-closed its socket. OpenSSL holds the raw descriptor number, which
// the kernel hands out again at once; a write must fail, not land in
// whatever now owns that number.
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "../loopback_client.hpp"
#include "server/smtp_stream.hpp"
#include "server/tls_context.hpp"

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// A TLS client on its own thread: handshakes, then reads until the server
// closes (so the server's writes before close() have somewhere to go).
void tls_client(std::uint16_t port) {
    int fd = rp::test::connect_loopback(port);
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        char buf[256];
        while (SSL_read(ssl, buf, sizeof buf) > 0) {
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ::close(fd);
}

}  // namespace

TEST_CASE("SmtpStream: after close() a TLS write fails and never reaches a reused descriptor") {
    rp::config::Tls tls;
    tls.self_signed = true;
    auto context = rp::server::make_tls_context(tls, "relay.test");
    REQUIRE_MESSAGE(context.context, context.error);

    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    std::thread client(tls_client, acceptor.local_endpoint().port());

    char path[] = "/tmp/rp-smtp-stream-XXXXXX";
    int file = ::mkstemp(path);
    REQUIRE(file >= 0);
    ::unlink(path);

    boost::system::error_code handshake_ec, write_before_ec, write_after_ec;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            rp::server::SmtpStream stream(co_await acceptor.async_accept(net::use_awaitable));
            handshake_ec = co_await stream.handshake(*context.context);
            if (handshake_ec) co_return;
            write_before_ec = co_await stream.write("220 ready\r\n");
            const int old_fd = static_cast<int>(stream.socket().native_handle());
            stream.close();
            // The number is taken again, as the next accept() or open() would.
            REQUIRE(::dup2(file, old_fd) == old_fd);
            write_after_ec = co_await stream.write("535 5.7.8 late reply\r\n");
            ::close(old_fd);
        },
        net::detached);
    io.run();
    client.join();

    CHECK_FALSE(handshake_ec);
    CHECK_FALSE(write_before_ec);
    CHECK(write_after_ec);
    CHECK(::lseek(file, 0, SEEK_END) == 0);  // no TLS record landed in the file
    ::close(file);
}
