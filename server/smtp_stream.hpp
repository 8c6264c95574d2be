// The byte stream under one SMTP connection: a plain TCP socket that can be
// upgraded in place to TLS (STARTTLS), or TLS from the first byte (implicit).
// One type for all three listener kinds, so the session driver has a single
// code path; the upgrade moves the socket into the ssl::stream inside the
// same std::variant (no extra heap object besides OpenSSL's own SSL*).
//
// All operations return error codes (never throw). Not thread-safe: used by
// one connection coroutine on the event loop. Internal to server/.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace rp::server {

class SmtpStream {
  public:
    using tcp = boost::asio::ip::tcp;
    using error_code = boost::system::error_code;

    explicit SmtpStream(tcp::socket socket) : stream_(std::move(socket)) {}

    boost::asio::awaitable<std::tuple<error_code, std::size_t>> read_some(char* data, std::size_t size);
    boost::asio::awaitable<error_code> write(std::string_view bytes);

    // Wraps the socket in TLS (server side) and runs the handshake. After a
    // failure the stream is unusable: close it.
    boost::asio::awaitable<error_code> handshake(boost::asio::ssl::context& context);

    bool tls() const { return stream_.index() == 1; }
    std::string tls_version() const;  // "TLSv1.3", "" without TLS
    std::string tls_cipher() const;

    tcp::socket& socket();
    // Aborts pending reads/writes (they complete with operation_aborted);
    // the connection stays usable for a final reply.
    void cancel();
    void close();

  private:
    std::variant<tcp::socket, boost::asio::ssl::stream<tcp::socket>> stream_;
};

}  // namespace rp::server
