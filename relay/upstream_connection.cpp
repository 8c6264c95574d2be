// One upstream connection (see upstream_connection.hpp).
#include "relay/upstream_connection.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "relay/tls_client.hpp"

namespace rp::relay {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace act = protocol::client_action;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using protocol::LocalFailure;
using protocol::Stage;
using protocol::UpstreamOutcome;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

LocalFailure io_failure(const error_code& ec, bool timed_out) {
    if (timed_out || ec == asio::error::timed_out) return LocalFailure::timeout;
    return LocalFailure::reset;
}

std::string io_text(const error_code& ec, bool timed_out, std::chrono::milliseconds timeout) {
    if (timed_out) return "timed out after " + std::to_string(timeout.count()) + " ms";
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return "connection closed by upstream";
    return ec.message();
}

LocalFailure connect_failure(const error_code& ec, bool timed_out) {
    if (timed_out || ec == asio::error::timed_out) return LocalFailure::timeout;
    if (ec == asio::error::connection_reset) return LocalFailure::reset;
    return LocalFailure::refused;  // refused, unreachable: the upstream is not there
}

// After a failed handshake: verification (our checks said no) or the rest.
std::pair<LocalFailure, std::string> tls_failure(ssl::stream<tcp::socket>& stream, const error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long result = SSL_get_verify_result(stream.native_handle());
        return {LocalFailure::tls_verify,
                std::string("certificate verification failed: ") + X509_verify_cert_error_string(result)};
    }
    return {LocalFailure::tls_handshake, "TLS handshake failed: " + ec.message()};
}

}  // namespace

// ---- BodyReader ----------------------------------------------------------------

BodyReader::~BodyReader() {
    if (fd_ >= 0) ::close(fd_);
}

std::string BodyReader::open(const std::string& path, std::uint64_t offset, std::uint64_t size) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return "cannot open spool file: " + std::string(std::strerror(errno));
    offset_ = offset;
    size_ = size;
    return "";
}

std::string_view BodyReader::next() {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), size_ - position_));
    ssize_t n;
    do {
        n = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(offset_ + position_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        error_ = "spool read failed: " + std::string(std::strerror(errno));
        return {};
    }
    if (n == 0 && want > 0) {
        error_ = "spool file is shorter than its recorded size";
        return {};
    }
    position_ += static_cast<std::uint64_t>(n);
    return {buffer_.data(), static_cast<std::size_t>(n)};
}

// ---- UpstreamConnection ------------------------------------------------------------

UpstreamConnection::UpstreamConnection(const asio::any_io_executor& executor, ssl::context& tls,
                                       const UpstreamEndpoint& endpoint, protocol::ClientConfig config,
                                       std::string account)
    : idle_timer(executor),
      endpoint_(endpoint),
      stream_(executor, tls),
      resolver_(executor),
      // The deadline cancels whatever waits: the resolver or the socket.
      deadline_(executor,
                [this] {
                    deadline_passed_ = true;
                    resolver_.cancel();
                    error_code ignored;
                    if (connecting_)
                        socket().close(ignored);
                    else
                        socket().cancel(ignored);
                }),
      session_(std::move(config)),
      account_(std::move(account)) {}

void UpstreamConnection::arm(std::chrono::milliseconds timeout) {
    deadline_passed_ = false;
    deadline_.arm(timeout);
}

bool UpstreamConnection::disarm() {
    deadline_.disarm();
    return std::exchange(deadline_passed_, false);
}

void UpstreamConnection::close() {
    deadline_.stop();
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

bool UpstreamConnection::looks_alive() {
    if (!socket().is_open()) return false;
    char byte;
    ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

asio::awaitable<void> UpstreamConnection::write(const act::Write& w) {
    arm(w.timeout);
    auto buffer = asio::buffer(w.bytes.data(), w.bytes.size());
    error_code ec;
    if (tls_)
        std::tie(ec, std::ignore) = co_await asio::async_write(stream_, buffer, use_tuple);
    else
        std::tie(ec, std::ignore) = co_await asio::async_write(socket(), buffer, use_tuple);
    const bool timed_out = disarm();
    if (ec) session_.on_failure(io_failure(ec, timed_out), "write: " + io_text(ec, timed_out, w.timeout));
}

asio::awaitable<void> UpstreamConnection::read(const act::ReadReply& r) {
    arm(r.timeout);
    auto buffer = asio::buffer(read_buffer_);
    error_code ec;
    std::size_t n = 0;
    if (tls_)
        std::tie(ec, n) = co_await stream_.async_read_some(buffer, use_tuple);
    else
        std::tie(ec, n) = co_await socket().async_read_some(buffer, use_tuple);
    const bool timed_out = disarm();
    if (n > 0) session_.on_bytes(std::string_view(read_buffer_.data(), n));
    if (ec && n == 0) {
        session_.on_failure(io_failure(ec, timed_out), "waiting for the " +
                                                           std::string(protocol::to_string(r.stage)) +
                                                           " reply: " + io_text(ec, timed_out, r.timeout));
    }
}

asio::awaitable<void> UpstreamConnection::handshake() {
    if (!endpoint_.tls_error.empty()) {
        session_.on_failure(LocalFailure::tls_verify, endpoint_.tls_error);
        co_return;
    }
    verify_server_name(stream_, endpoint_.host);
    arm(endpoint_.tls_timeout);
    auto [ec] = co_await stream_.async_handshake(ssl::stream_base::client, use_tuple);
    const bool timed_out = disarm();
    if (!ec) {
        tls_ = true;
        session_.tls_established();
    } else if (timed_out) {
        session_.on_failure(LocalFailure::timeout, "TLS handshake timed out");
    } else {
        auto [kind, text] = tls_failure(stream_, ec);
        session_.on_failure(kind, std::move(text));
    }
}

void UpstreamConnection::send_body(BodyReader* body) {
    if (body == nullptr) return session_.on_failure(LocalFailure::protocol, "no message body to send");
    if (body->at_end()) return session_.body_end();
    std::string_view piece = body->next();
    if (piece.empty()) return session_.on_failure(LocalFailure::protocol, body->error());
    session_.body_data(piece);
}

asio::awaitable<DriveResult> UpstreamConnection::drive(BodyReader* body) {
    for (;;) {
        if (body != nullptr && session_.message_concluded()) co_return DriveResult{Halt::message_done, {}};
        protocol::ClientAction action = session_.next();
        if (auto* w = std::get_if<act::Write>(&action)) {
            co_await write(*w);
        } else if (auto* r = std::get_if<act::ReadReply>(&action)) {
            co_await read(*r);
        } else if (std::holds_alternative<act::StartTls>(action)) {
            co_await handshake();
        } else if (std::holds_alternative<act::SendBody>(action)) {
            send_body(body);
        } else if (std::holds_alternative<act::Idle>(action)) {
            co_return DriveResult{Halt::idle, {}};
        } else if (std::holds_alternative<act::Done>(action)) {
            co_return DriveResult{Halt::done, {}};
        } else {
            co_return DriveResult{Halt::failed, std::get<act::Failed>(action).outcome};
        }
    }
}

// Resolution and connect share one deadline: a resolver that never answers
// (a dead DNS server) must not hold a delivery slot.
asio::awaitable<std::optional<UpstreamOutcome>> UpstreamConnection::connect() {
    const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
    connecting_ = true;
    arm(endpoint_.connect_timeout);
    auto [rec, endpoints] =
        co_await resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port), use_tuple);
    if (rec || deadline_passed_) {
        connecting_ = false;
        const bool timed_out = disarm();
        co_return protocol::local_outcome(
            Stage::connect, timed_out ? LocalFailure::timeout : LocalFailure::dns,
            "cannot resolve " + endpoint_.host + ": " + io_text(rec, timed_out, endpoint_.connect_timeout));
    }
    auto [ec, endpoint] = co_await asio::async_connect(socket(), endpoints, use_tuple);
    connecting_ = false;
    const bool timed_out = disarm();
    if (ec || timed_out) {  // timed out just as it connected: the socket is closed
        co_return protocol::local_outcome(
            Stage::connect, connect_failure(ec, timed_out),
            "connect to " + where + ": " + io_text(ec, timed_out, endpoint_.connect_timeout));
    }
    error_code ignored;
    socket().set_option(tcp::no_delay(true), ignored);
    co_return std::nullopt;
}

asio::awaitable<std::optional<UpstreamOutcome>> UpstreamConnection::open() {
    std::optional<UpstreamOutcome> failure = co_await connect();
    if (failure) co_return failure;
    DriveResult r = co_await drive(nullptr);
    if (r.halt == Halt::idle) co_return std::nullopt;
    if (r.halt == Halt::failed) co_return r.failure;
    co_return protocol::local_outcome(Stage::ehlo, LocalFailure::protocol,
                                      "session ended before it was ready");
}

asio::awaitable<void> UpstreamConnection::quit() {
    session_.quit();
    co_await drive(nullptr);
    close();
    log::debug("upstream", "session closed", {{"account", account_}});
}

}  // namespace rp::relay
