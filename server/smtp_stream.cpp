// SmtpStream: plain or TLS byte stream of one SMTP connection, driven as
// "try the non-blocking operation, wait for readiness, retry".
#include "server/smtp_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>
#include <csignal>
#include <mutex>

namespace rp::server {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

void ignore_sigpipe() {
    static std::once_flag once;
    std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

}  // namespace

SmtpStream::SmtpStream(tcp::socket socket) : socket_(std::move(socket)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
}

SmtpStream::~SmtpStream() = default;

SmtpStream::error_code SmtpStream::ssl_error(int result, Want& want) {
    int err = SSL_get_error(ssl_.get(), result);
    switch (err) {
        case SSL_ERROR_WANT_READ:
            want = Want::read;
            return {};
        case SSL_ERROR_WANT_WRITE:
            want = Want::write;
            return {};
        case SSL_ERROR_ZERO_RETURN:
            return net::error::eof;
        case SSL_ERROR_SYSCALL: {
            int e = errno;
            ERR_clear_error();
            if (e == 0) return net::error::eof;
            return {e, net::error::get_system_category()};
        }
        default: {
            unsigned long code = ERR_get_error();
            ERR_clear_error();
            if (code == 0) return net::ssl::error::unspecified_system_error;
            return {static_cast<int>(code), net::error::get_ssl_category()};
        }
    }
}

std::size_t SmtpStream::try_read(char* data, std::size_t size, error_code& ec, Want& want) {
    want = Want::none;
    if (!ssl_) {
        std::size_t n = socket_.read_some(net::buffer(data, size), ec);
        if (ec == net::error::would_block || ec == net::error::try_again) {
            ec = {};
            want = Want::read;
        }
        return n;
    }
    if (!socket_.is_open()) {
        ec = net::error::bad_descriptor;
        return 0;
    }
    ERR_clear_error();
    std::size_t n = 0;
    int result = SSL_read_ex(ssl_.get(), data, size, &n);
    if (result == 1) return n;
    ec = ssl_error(result, want);
    return 0;
}

std::size_t SmtpStream::try_write(std::string_view bytes, error_code& ec, Want& want) {
    want = Want::none;
    if (!socket_.is_open()) {  // closed: see close()
        ec = net::error::bad_descriptor;
        return 0;
    }
    ERR_clear_error();
    std::size_t n = 0;
    int result = SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n);
    if (result == 1) return n;
    ec = ssl_error(result, want);
    return 0;
}

SmtpStream::error_code SmtpStream::try_handshake(Want& want) {
    want = Want::none;
    if (!socket_.is_open()) return net::error::bad_descriptor;
    ERR_clear_error();
    int result = SSL_accept(ssl_.get());
    if (result == 1) return {};
    return ssl_error(result, want);
}

net::awaitable<SmtpStream::error_code> SmtpStream::wait(Want want) {
    auto [ec] = co_await socket_.async_wait(
        want == Want::write ? tcp::socket::wait_write : tcp::socket::wait_read, use_tuple);
    co_return ec;
}

net::awaitable<std::tuple<SmtpStream::error_code, std::size_t>> SmtpStream::read_some(char* data,
                                                                                      std::size_t size) {
    for (;;) {
        error_code ec;
        Want want;
        std::size_t n = try_read(data, size, ec, want);
        if (want == Want::none) co_return std::tuple{ec, n};
        ec = co_await wait(want);
        if (ec) co_return std::tuple{ec, std::size_t{0}};
    }
}

net::awaitable<std::tuple<SmtpStream::error_code, std::size_t>> SmtpStream::peek(char* data,
                                                                                 std::size_t size) {
    for (;;) {
        error_code ec;
        std::size_t n = socket_.receive(net::buffer(data, size), tcp::socket::message_peek, ec);
        bool again = ec == net::error::would_block || ec == net::error::try_again;
        if (ec && !again) co_return std::tuple{ec, std::size_t{0}};
        if (!ec && n == 0) co_return std::tuple{error_code(net::error::eof), std::size_t{0}};
        if (!ec) co_return std::tuple{ec, n};
        // Nothing queued: wait for the next arrival. (Waiting while peeked
        // bytes are still queued would return at once: see the header.)
        ec = co_await wait(Want::read);
        if (ec) co_return std::tuple{ec, std::size_t{0}};
    }
}

SmtpStream::error_code SmtpStream::consume(std::size_t size) {
    char sink[512];
    while (size > 0) {
        error_code ec;
        std::size_t n = socket_.read_some(net::buffer(sink, std::min(size, sizeof sink)), ec);
        if (ec) return ec;
        size -= n;
    }
    return {};
}

net::awaitable<SmtpStream::error_code> SmtpStream::write(std::string_view bytes) {
    if (!ssl_) {
        auto [ec, n] = co_await net::async_write(socket_, net::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return ec;
    }
    while (!bytes.empty()) {
        error_code ec;
        Want want;
        std::size_t n = try_write(bytes, ec, want);
        if (ec) co_return ec;
        bytes.remove_prefix(n);
        if (want != Want::none) {
            ec = co_await wait(want);
            if (ec) co_return ec;
        }
    }
    co_return error_code{};
}

net::awaitable<SmtpStream::error_code> SmtpStream::handshake(net::ssl::context& context) {
    if (ssl_) co_return net::error::already_connected;
    ignore_sigpipe();
    ssl_.reset(SSL_new(context.native_handle()));
    if (!ssl_ || SSL_set_fd(ssl_.get(), static_cast<int>(socket_.native_handle())) != 1)
        co_return net::error::no_memory;
    // The same bytes are retried after WANT_WRITE, possibly from a moved buffer.
    SSL_set_mode(ssl_.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    for (;;) {
        Want want;
        error_code ec = try_handshake(want);
        if (want == Want::none) co_return ec;
        ec = co_await wait(want);
        if (ec) co_return ec;
    }
}

std::string SmtpStream::tls_version() const {
    if (!ssl_) return {};
    const char* v = SSL_get_version(ssl_.get());
    return v ? v : "";
}

std::string SmtpStream::tls_cipher() const {
    if (!ssl_) return {};
    const char* c = SSL_get_cipher_name(ssl_.get());
    return c ? c : "";
}

void SmtpStream::cancel() {
    error_code ignored;
    socket_.cancel(ignored);
}

// OpenSSL keeps the raw descriptor number (SSL_set_fd), and the kernel
// hands that number out again at once (an upstream connection, a spool
// file). A session suspended elsewhere when shutdown force-closes it may
// still try a read or a write: every TLS attempt checks the socket first,
// so that it fails with bad_descriptor instead of using the reused number.
void SmtpStream::close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

}  // namespace rp::server
