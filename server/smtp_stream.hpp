// The byte stream under one SMTP connection: a TCP socket, optionally with
// TLS on top (from the first byte for implicit TLS, or upgraded in place by
// STARTTLS). One type for all three listener kinds, so the session driver has
// a single code path.
//
// Memory: TLS runs OpenSSL directly on the non-blocking socket (SSL_set_fd)
// and waits for readiness with the reactor (async_wait), instead of Asio's
// ssl::stream, which holds two 17 KiB record buffers per connection for its
// whole life. With SSL_MODE_RELEASE_BUFFERS an idle TLS connection costs only
// OpenSSL's SSL object. Reads fill the caller's buffer only after the last
// suspension, so many connections on one thread can share one read buffer.
//
// All operations return error codes (never throw). SIGPIPE is ignored
// process-wide on first use (OpenSSL writes with write(2)). Not thread-safe:
// used by one connection coroutine on the event loop. Internal to server/.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <tuple>

namespace rp::server {

class SmtpStream {
  public:
    using tcp = boost::asio::ip::tcp;
    using error_code = boost::system::error_code;

    explicit SmtpStream(tcp::socket socket);
    ~SmtpStream();
    SmtpStream(const SmtpStream&) = delete;
    SmtpStream& operator=(const SmtpStream&) = delete;

    // Waits until bytes are available, then copies up to `size` of them into
    // `data` without suspending again. eof when the peer closed.
    boost::asio::awaitable<std::tuple<error_code, std::size_t>> read_some(char* data, std::size_t size);
    // Plain socket only (before TLS): waits until bytes are queued, then
    // copies up to `size` of them without consuming them. Lets the PROXY
    // header be parsed without reading into what follows it (the TLS
    // ClientHello on implicit-TLS listeners). The caller must consume() what
    // it peeked before peeking again: readiness is level-triggered, so unread
    // bytes would make the wait return at once (a busy loop).
    boost::asio::awaitable<std::tuple<error_code, std::size_t>> peek(char* data, std::size_t size);
    // Plain socket only: consumes exactly `size` bytes that peek() showed.
    error_code consume(std::size_t size);
    // Writes all of `bytes` (which must stay valid until completion).
    boost::asio::awaitable<error_code> write(std::string_view bytes);
    // Starts TLS (server side) on the socket. After a failure the stream is
    // unusable: close it.
    boost::asio::awaitable<error_code> handshake(boost::asio::ssl::context& context);

    bool tls() const { return ssl_ != nullptr; }
    std::string tls_version() const;  // "TLSv1.3", "" without TLS
    std::string tls_cipher() const;

    tcp::socket& socket() { return socket_; }
    // Aborts a pending read/write (it completes with operation_aborted); the
    // connection stays usable for a final reply.
    void cancel();
    void close();

  private:
    enum class Want { none, read, write };
    // One non-blocking attempt; `want` says what to wait for before retrying.
    std::size_t try_read(char* data, std::size_t size, error_code& ec, Want& want);
    std::size_t try_write(std::string_view bytes, error_code& ec, Want& want);
    error_code try_handshake(Want& want);
    error_code ssl_error(int result, Want& want);
    boost::asio::awaitable<error_code> wait(Want want);

    tcp::socket socket_;
    struct SslFree {
        void operator()(SSL* ssl) const { SSL_free(ssl); }
    };
    std::unique_ptr<SSL, SslFree> ssl_;
};

}  // namespace rp::server
