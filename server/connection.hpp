// One SMTP connection: the thin coroutine that drives a
// protocol::ServerSession over an SmtpStream (read -> feed -> act), plus
// what the session cannot do itself: the PROXY header, the per-address
// limit, TLS handshakes, deadlines, password checks off the event loop, the
// auth failure delay and the spool writer.
//
// Invariants: runs on the io_context thread only; at most one read or write
// is pending; every read/write has a deadline (limits.idle_timeout, shorter
// for the PROXY header, handshakes and final replies); reads go through one
// buffer shared by all connections of the thread (SmtpStream fills it only
// after its last suspension and the bytes are fed to the session at once),
// so an idle connection holds no read buffer at all; a 250 after DATA comes only from
// ServerSession::message_committed, i.e. after the spool's durable commit. Never logs AUTH payloads. Internal
// to server/.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "common/deadline.hpp"
#include "protocol/server_session.hpp"
#include "server/connection_limits.hpp"
#include "server/server_core.hpp"
#include "server/smtp_stream.hpp"
#include "spool/spool_intake.hpp"

namespace rp::server {

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(std::shared_ptr<Server::Core> core, const config::Listener& listener,
               boost::asio::ip::tcp::socket socket, ConnectionLimits::Slot slot);
    ~Connection();

    static boost::asio::awaitable<void> run(std::shared_ptr<Connection> self);

    // Shutdown: an idle session is answered 421 4.3.2 and closed now; one in
    // the middle of a message finishes it first.
    void request_stop();
    // End of the grace period: close the socket whatever the state.
    void force_close();

  private:
    using Clock = std::chrono::steady_clock;

    boost::asio::awaitable<bool> admit();
    boost::asio::awaitable<bool> read_proxy_header();
    void note_address_limit(const std::string& addr);
    boost::asio::awaitable<bool> start_tls();
    boost::asio::awaitable<void> drive();
    boost::asio::awaitable<bool> send(std::string_view bytes, std::chrono::milliseconds timeout);
    boost::asio::awaitable<bool> send_final(const protocol::Reply& reply);

    // One handler per session action; false ends the connection.
    boost::asio::awaitable<bool> act(protocol::action::Write& a);
    boost::asio::awaitable<bool> act(protocol::action::NeedMore& a);
    boost::asio::awaitable<bool> act(protocol::action::StartTls& a);
    boost::asio::awaitable<bool> act(protocol::action::VerifyAuth& a);
    boost::asio::awaitable<bool> act(protocol::action::BeginMessage& a);
    boost::asio::awaitable<bool> act(protocol::action::MessageData& a);
    boost::asio::awaitable<bool> act(protocol::action::CommitMessage& a);
    boost::asio::awaitable<bool> act(protocol::action::AbortMessage& a);
    boost::asio::awaitable<bool> act(protocol::action::Close& a);
    boost::asio::awaitable<bool> refuse_auth(const protocol::action::VerifyAuth& a);

    // busy: the AUTH workers' queue is full, the check did not run.
    enum class PasswordCheck { ok, failed, busy };
    boost::asio::awaitable<PasswordCheck> verify_password(std::string password, std::string hash);
    boost::asio::awaitable<std::pair<std::error_code, std::string>> commit();

    // Deadline of the I/O about to start (one rp::Deadline per connection;
    // a deadline that passes calls on_timeout()).
    void arm(std::chrono::milliseconds timeout) { deadline_.arm(timeout); }
    void arm_until(Clock::time_point deadline) { deadline_.arm_until(deadline); }
    void disarm() { deadline_.disarm(); }
    void on_timeout();

    std::string received_header(const protocol::Envelope& envelope) const;
    std::chrono::milliseconds idle_timeout() const;

    std::shared_ptr<Server::Core> core_;
    std::shared_ptr<const Settings> settings_;
    config::Listener listener_;
    SmtpStream stream_;
    ConnectionLimits::Slot connection_slot_;
    ConnectionLimits::Slot address_slot_;
    std::list<Connection*>::iterator registration_;

    std::string peer_addr_;    // TCP peer
    std::string client_addr_;  // after PROXY protocol
    std::optional<protocol::ServerSession> session_;
    std::unique_ptr<spool::SpoolWriter> writer_;
    std::string mail_from_;
    std::size_t recipients_ = 0;

    rp::Deadline deadline_;
    boost::asio::steady_timer delay_;
    bool timed_out_ = false;
    // When the line being read must be complete: idle_timeout after its
    // first byte arrived (unset between lines).
    std::optional<Clock::time_point> line_deadline_;
    bool reading_idle_ = false;
    bool stop_requested_ = false;
    bool finished_ = false;
    bool opened_ = false;  // counted in relaypool_sessions_active
};

}  // namespace rp::server
