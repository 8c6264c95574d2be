// SmtpStream: plain or TLS byte stream of one SMTP connection.
#include "server/smtp_stream.hpp"

#include <boost/asio/write.hpp>

namespace rp::server {
namespace {
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
}

boost::asio::awaitable<std::tuple<SmtpStream::error_code, std::size_t>> SmtpStream::read_some(
    char* data, std::size_t size) {
    auto buffer = boost::asio::buffer(data, size);
    co_return co_await std::visit([&](auto& s) { return s.async_read_some(buffer, use_tuple); }, stream_);
}

boost::asio::awaitable<SmtpStream::error_code> SmtpStream::write(std::string_view bytes) {
    auto buffer = boost::asio::buffer(bytes.data(), bytes.size());
    auto [ec, n] =
        co_await std::visit([&](auto& s) { return boost::asio::async_write(s, buffer, use_tuple); }, stream_);
    co_return ec;
}

boost::asio::awaitable<SmtpStream::error_code> SmtpStream::handshake(boost::asio::ssl::context& context) {
    if (tls()) co_return boost::asio::error::already_connected;
    tcp::socket plain = std::move(std::get<0>(stream_));
    auto& ssl = stream_.emplace<1>(std::move(plain), context);
    auto [ec] = co_await ssl.async_handshake(boost::asio::ssl::stream_base::server, use_tuple);
    co_return ec;
}

std::string SmtpStream::tls_version() const {
    if (!tls()) return {};
    auto* ssl = const_cast<boost::asio::ssl::stream<tcp::socket>&>(std::get<1>(stream_)).native_handle();
    const char* v = SSL_get_version(ssl);
    return v ? v : "";
}

std::string SmtpStream::tls_cipher() const {
    if (!tls()) return {};
    auto* ssl = const_cast<boost::asio::ssl::stream<tcp::socket>&>(std::get<1>(stream_)).native_handle();
    const char* c = SSL_get_cipher_name(ssl);
    return c ? c : "";
}

SmtpStream::tcp::socket& SmtpStream::socket() {
    if (tls()) return std::get<1>(stream_).next_layer();
    return std::get<0>(stream_);
}

void SmtpStream::cancel() {
    error_code ignored;
    socket().cancel(ignored);
}

void SmtpStream::close() {
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

}  // namespace rp::server
