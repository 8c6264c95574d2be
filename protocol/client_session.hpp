// The upstream SMTP client session, sans-IO: a state machine that says what
// the driver must do next (write, read a reply, start TLS, stream the body)
// and turns every upstream reply into an UpstreamOutcome. No sockets, timers
// or files: relay/smtp_transport.cpp (an Asio coroutine) carries the actions
// out; tests script whole dialogues.
//
// Driver loop (one TCP connection, already connected):
//
//   ClientSession s(config);
//   for (;;) {
//     ClientAction a = s.next();
//     Write{bytes, timeout}  -> write all bytes (deadline `timeout`); on error
//                               s.on_failure(reset|timeout, text). Do not log
//                               the bytes when `sensitive` (AUTH).
//     ReadReply{timeout}     -> read some bytes (deadline `timeout`), then
//                               s.on_bytes(data); EOF/error/timeout ->
//                               s.on_failure(reset|timeout, text).
//     StartTls{}             -> TLS handshake on the socket (also the FIRST
//                               action in implicit-TLS mode: the driver does
//                               not handshake on its own), then
//                               s.tls_established() or
//                               s.on_failure(tls_handshake|tls_verify, text).
//     SendBody{timeout}      -> read the next raw piece of the stored message
//                               (any size, e.g. 64 KiB) and s.body_data(piece);
//                               at the end of the message s.body_end(). The
//                               session filters (MessageFilter), dot-stuffs or
//                               frames BDAT and returns Write actions. A spool
//                               read error: s.on_failure(protocol, text).
//     Idle{}                 -> authenticated and ready: s.begin_message(m),
//                               or s.quit(), or just close.
//     Done{}                 -> QUIT answered (or not): close.
//     Failed{outcome}        -> the session is unusable: close.
//   }
//   After a message (when next() returns Idle, Failed or Done once
//   begin_message was called), s.take_message_result() holds one outcome per
//   recipient.
//
// Invariants:
// - exactly one AUTH attempt per session with the configured mechanism
//   (automatic: PLAIN when offered, else LOGIN); after any AUTH failure the
//   session fails: it never tries another mechanism and never re-authenticates
//   (Gmail: 503 5.7.0 No identity changes permitted);
// - with STARTTLS, nothing but EHLO and STARTTLS is sent before TLS, and bytes
//   that arrive after the 220 to STARTTLS (injection) fail the session;
// - with PIPELINING, MAIL + every RCPT (+ DATA) go in one Write and the replies
//   are consumed in order; when every RCPT failed no body is sent;
// - every message ends with RSET before the next one; a 421 anywhere, a local
//   failure or an unparseable reply make the session unusable;
// - a per-recipient outcome is final: RCPT 2xx + body 2xx = delivered (stage
//   body); a RCPT failure is that recipient's; a MAIL/DATA/body failure is every
//   still-pending recipient's; when the session dies mid-message (421, timeout,
//   garbage) every pending recipient gets that outcome;
// - a 2xx/3xx that ends the session (250 as a greeting, 220 to AUTH, 250 to
//   DATA) is reported as LocalFailure::protocol, so it can never classify as
//   delivered;
// - no address containing CR, LF or NUL is ever written (begin_message refuses).
// Pure: used by relay/smtp_transport.cpp and tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/message_filter.hpp"
#include "protocol/upstream_reply.hpp"
#include "protocol/upstream_result.hpp"

namespace rp::protocol {

enum class ClientTls { starttls, implicit, none };

// automatic: PLAIN when the server offers it, else LOGIN (password accounts).
// xoauth2: `secret` is the OAuth2 access token.
enum class AuthMechanism { automatic, plain, login, xoauth2 };
std::string_view to_string(AuthMechanism mechanism);

struct ClientCredentials {
    AuthMechanism mechanism = AuthMechanism::automatic;
    std::string username;
    std::string secret;  // password or access token: never logged
};

// RFC 5321 4.5.3.2 client timeouts, as data (the driver arms the timers).
// `command` covers EHLO, STARTTLS, AUTH, RSET (the RFC names none; 5 min like
// MAIL); `quit` is ours.
struct ClientTimeouts {
    std::chrono::milliseconds greeting = std::chrono::minutes(5);
    std::chrono::milliseconds command = std::chrono::minutes(5);
    std::chrono::milliseconds mail = std::chrono::minutes(5);
    std::chrono::milliseconds rcpt = std::chrono::minutes(5);
    std::chrono::milliseconds data_init = std::chrono::minutes(2);
    std::chrono::milliseconds data_block = std::chrono::minutes(3);
    std::chrono::milliseconds data_end = std::chrono::minutes(10);
    std::chrono::milliseconds quit = std::chrono::seconds(30);
};

struct ClientConfig {
    std::string ehlo_hostname;  // config.hostname
    ClientTls tls = ClientTls::starttls;
    std::optional<ClientCredentials> credentials;  // nullopt: no AUTH (test upstreams)
    ClientTimeouts timeouts;
    bool use_pipelining = true;  // when the server offers PIPELINING
    bool use_chunking = true;    // BDAT instead of DATA when the server offers CHUNKING
    std::size_t bdat_chunk_size = 1024 * 1024;
};

// One message to send on an Idle session.
struct OutgoingMessage {
    std::string mail_from;                // envelope sender after sender_rewrite; "" = <>
    std::vector<std::string> recipients;  // addresses without angle brackets
    std::uint64_t size = 0;               // stored size for SIZE= (0: omit)
    bool body_8bitmime = false;           // BODY=8BITMIME (when offered)
    bool smtputf8 = false;                // SMTPUTF8 (when offered)
    MessageFilterOptions filter;          // strip_headers, From rewrite
};

// The result of one message: one outcome per recipient, index-aligned with
// OutgoingMessage::recipients. Delivered = stage body with a 2xx code.
struct MessageResult {
    std::vector<UpstreamOutcome> recipients;
    // The end of the message (the final dot, or BDAT LAST) went out and the
    // session then failed locally (timeout, reset) with no reply: the
    // upstream may have accepted the message, and counted it against the
    // account's sending limit, although no recipient reads as delivered.
    bool end_unanswered = false;
    bool delivered(std::size_t i) const;
};

namespace client_action {
struct Write {
    std::string bytes;
    std::chrono::milliseconds timeout{0};
    bool sensitive = false;  // carries credentials: never log
};
struct ReadReply {
    std::chrono::milliseconds timeout{0};
    Stage stage = Stage::greeting;  // what the reply answers (for logs)
};
struct StartTls {};
struct SendBody {
    std::chrono::milliseconds timeout{0};  // per spool read + write (data block)
};
struct Idle {};
struct Done {};
struct Failed {
    UpstreamOutcome outcome;
};
}  // namespace client_action

using ClientAction =
    std::variant<client_action::Write, client_action::ReadReply, client_action::StartTls,
                 client_action::SendBody, client_action::Idle, client_action::Done, client_action::Failed>;

class ClientSession {
  public:
    explicit ClientSession(ClientConfig config);
    ~ClientSession();
    ClientSession(ClientSession&&) noexcept;
    ClientSession& operator=(ClientSession&&) noexcept;

    // What to do now. Call again after carrying the action out (and calling
    // the matching on_* / body_* function); repeated calls without new input
    // return ReadReply / SendBody / Idle / Done / Failed again.
    ClientAction next();

    // Bytes read after a ReadReply (any amount, possibly several replies).
    void on_bytes(std::string_view bytes);
    // The TLS handshake asked for by StartTls succeeded.
    void tls_established();
    // A local failure (timeout, reset, TLS, spool read). The first one wins;
    // next() then returns Failed with the stage being worked on.
    void on_failure(LocalFailure kind, std::string text);

    // Starts a message; only while Idle, with at least one recipient and no
    // CR/LF/NUL in any address (false otherwise, nothing changes).
    bool begin_message(OutgoingMessage message);
    // After SendBody: the next raw piece of the stored message, or its end.
    void body_data(std::string_view raw);
    void body_end();
    // Ends the session politely (from Idle); next() writes QUIT, then Done.
    void quit();

    // The result of the last message, once (see the driver loop above).
    std::optional<MessageResult> take_message_result();
    // The last message has its result and the session is healthy: all that
    // is left of it is the RSET that ends the transaction. A driver may hand
    // the result on now and finish the RSET afterwards.
    bool message_concluded() const;

    const EhloCapabilities& capabilities() const;
    bool authenticated() const;
    bool secure() const;                   // TLS active
    std::size_t messages_started() const;  // begin_message calls accepted
    // Still usable for another message (no 421, no local failure, not closed).
    bool reusable() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An outcome for a local failure (connect, DNS, TLS) with no SMTP reply:
// what the driver reports when it cannot even create a session.
UpstreamOutcome local_outcome(Stage stage, LocalFailure kind, std::string text);

}  // namespace rp::protocol
