// One upstream SMTP connection (TCP, then TLS) and the coroutine that
// carries out its protocol::ClientSession's actions. Used by
// relay/smtp_transport.cpp (which decides which connection carries which
// message) and relay/session_pool.* (which keeps idle ones per account).
//
// Invariants:
// - Every wait is bounded: name resolution and connect by connect_timeout,
//   each read, write and TLS handshake by the session's RFC 5321 timeouts,
//   through one rp::Deadline per connection that cancels the socket (or the
//   resolver) when it passes.
// - drive() never throws for network, TLS or protocol failures: they end the
//   session as outcomes (LocalFailure for those without an SMTP reply).
// - Single-threaded: the transport's executor only.
// Asio + OpenSSL: include only from relay/ .cpp files.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/deadline.hpp"
#include "protocol/client_session.hpp"

namespace rp::relay {

// Where and how connections go; shared by every connection of a transport.
struct UpstreamEndpoint {
    std::string host;
    std::uint16_t port = 587;
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(30);  // resolve + connect
    std::chrono::milliseconds tls_timeout = std::chrono::minutes(5);       // the TLS handshake
    std::string tls_error;  // a broken ca_file: every handshake fails with it
};

// The stored message, read piecewise with pread() from body_offset (never
// the whole message in memory).
class BodyReader {
  public:
    explicit BodyReader(std::size_t chunk) : buffer_(chunk, '\0') {}
    ~BodyReader();
    BodyReader(const BodyReader&) = delete;
    BodyReader& operator=(const BodyReader&) = delete;

    // "" on success, else the reason.
    std::string open(const std::string& path, std::uint64_t offset, std::uint64_t size);
    void rewind() { position_ = 0; }
    bool at_end() const { return position_ == size_; }
    // The next piece; an empty view with error() set on failure.
    std::string_view next();
    const std::string& error() const { return error_; }

  private:
    int fd_ = -1;
    std::uint64_t offset_ = 0;
    std::uint64_t size_ = 0;
    std::uint64_t position_ = 0;
    std::string buffer_;
    std::string error_;
};

// Where drive() stopped.
// message_done: drive(body) stops as soon as the message's result is known
// (ClientSession::message_concluded); the RSET is still to be driven.
enum class Halt { idle, done, failed, message_done };
struct DriveResult {
    Halt halt = Halt::failed;
    protocol::UpstreamOutcome failure;  // when failed
};

class UpstreamConnection {
  public:
    UpstreamConnection(const boost::asio::any_io_executor& executor, boost::asio::ssl::context& tls,
                       const UpstreamEndpoint& endpoint, protocol::ClientConfig config, std::string account);
    UpstreamConnection(const UpstreamConnection&) = delete;
    UpstreamConnection& operator=(const UpstreamConnection&) = delete;

    // Resolve, connect and run the session up to an authenticated Idle;
    // nullopt when ready, else why not.
    boost::asio::awaitable<std::optional<protocol::UpstreamOutcome>> open();
    // Carries out the session's actions until it is idle, done or failed.
    boost::asio::awaitable<DriveResult> drive(BodyReader* body);
    // QUIT (bounded by the session's quit timeout), then close.
    boost::asio::awaitable<void> quit();
    void close();
    // An idle session the upstream closed (EOF) or wrote to (a timeout
    // notice) while we were not looking must not carry the next message.
    bool looks_alive();

    protocol::ClientSession& session() { return session_; }
    const std::string& account() const { return account_; }

    // Bookkeeping of the session pool (relay/session_pool.*).
    std::size_t messages = 0;
    std::uint64_t idle_generation = 0;
    boost::asio::steady_timer idle_timer;

  private:
    using tcp = boost::asio::ip::tcp;
    tcp::socket& socket() { return stream_.next_layer(); }
    boost::asio::awaitable<std::optional<protocol::UpstreamOutcome>> connect();
    boost::asio::awaitable<void> write(const protocol::client_action::Write& w);
    boost::asio::awaitable<void> read(const protocol::client_action::ReadReply& r);
    boost::asio::awaitable<void> handshake();
    void send_body(BodyReader* body);
    void arm(std::chrono::milliseconds timeout);
    bool disarm();  // true when the deadline had passed

    const UpstreamEndpoint endpoint_;  // a copy: idle sessions may outlive the transport
    boost::asio::ssl::stream<tcp::socket> stream_;
    tcp::resolver resolver_;
    rp::Deadline deadline_;
    bool deadline_passed_ = false;
    // While connecting the deadline closes the socket: a cancel would only
    // move async_connect on to the next address, without a deadline.
    bool connecting_ = false;
    protocol::ClientSession session_;
    std::string account_;
    bool tls_ = false;
    std::string read_buffer_ = std::string(16 * 1024, '\0');
};

}  // namespace rp::relay
