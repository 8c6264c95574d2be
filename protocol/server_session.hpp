// The SMTP submission server session as a sans-IO state machine (RFC 5321,
// 1869 SIZE, 6152 8BITMIME, 6531 SMTPUTF8, 2034/3463 enhanced codes, 2920
// PIPELINING, 3030 CHUNKING, 3207 STARTTLS, 4954 AUTH, 3461 DSN parameters).
//
// The driver (server/) owns the socket, the TLS stream, timers and the spool;
// this class owns every protocol decision. The driver loop is:
//
//   write(session.greeting().format());
//   for (;;) {
//     auto a = session.next();
//     Write         -> write a.bytes
//     NeedMore      -> read some bytes, session.feed(bytes)  (EOF: stop)
//     StartTls      -> TLS handshake on the socket, then session.tls_started()
//                      (handshake failure: close the connection)
//     VerifyAuth    -> check the credentials off the event loop, then
//                      session.auth_result(ok)  (on !ok the driver waits
//                      limits.auth_failure_delay before the next next());
//                      when the check cannot run now (the checkers are
//                      overloaded): session.auth_unavailable() instead
//     BeginMessage  -> spool.begin(a.envelope); session.message_begun(ok)
//                      (asked at DATA BEFORE the 354 is sent, so a spool
//                      that cannot take the message gets a 451 at once; at
//                      the first BDAT before its chunk is read; !ok -> 451)
//     MessageData   -> writer.append(a.bytes); on failure
//                      session.message_write_failed()
//     CommitMessage -> writer.commit(...); then session.message_committed(id)
//                      or session.message_failed()
//     AbortMessage  -> writer.abort() (the session keeps reading the data)
//     Close         -> close the connection (any Write before it was sent)
//   }
//
// Invariants:
// - Pure: no sockets, timers, files, clocks or threads. Every byte sequence
//   the client can send, split at any point, yields the same actions.
// - Bounded memory: a command line longer than 512 octets (RFC 5321 4.5.3.1;
//   12288 for AUTH lines, RFC 4954 4) is answered `500 5.5.2 Line too long`
//   and skipped to its CRLF without buffering it. The session never asks for
//   more input while it holds a complete unprocessed command, so the driver's
//   buffer holds at most one read plus one partial line.
// - Pipelining (RFC 2920): replies to all commands already buffered are
//   coalesced into one Write. Pending replies are always written before any
//   other action is returned.
// - While an asynchronous result is awaited (auth_result, message_begun,
//   message_committed/failed, tls_started) no further command is processed;
//   buffered commands stay queued and run afterwards, in order. Calling
//   next() while a result is awaited is a driver bug (std::logic_error).
// - STARTTLS: every byte buffered after the STARTTLS line is discarded
//   (command injection defence, CVE-2011-0411); after tls_started() the
//   session is in the fresh pre-EHLO state with TLS active.
// - A `250` to end-of-data / BDAT LAST is produced only by
//   message_committed(), i.e. after the driver made the message durable.
// - Line ends: command lines may end in CRLF or a bare LF. DATA content:
//   bare LF and bare CR are normalised to CRLF (Postfix 3.9 "normalize"),
//   and ONLY <CRLF>.<CRLF> ends the data (SMTP smuggling defence:
//   "\n.\n", "\r.\n", "\n.\r\n", "\r.\r\n" are content, not an end).
//   DATA lines longer than 998 octets are accepted (Gmail accepts them).
//   BDAT content: bare CR and bare LF are both normalised to CRLF
//   (protocol/line_ends.hpp), across chunk edges; nothing else changes.
// - Recipients: a repeated RCPT address is answered 250 but stored once;
//   "<postmaster>" without a domain is refused (501 5.1.3): a relay has no
//   local postmaster to deliver to.
// - Counting: replies 500/501/503/504/530/538/553/555 count toward
//   max_bad_commands, and so does every junk command (NOOP, VRFY, HELP,
//   HELO/EHLO, unimplemented verbs) past max_junk_commands since the last
//   accepted message; failed AUTHs count toward max_auth_failures; reaching
//   either answers 421 4.7.0 and closes.
// - Output: pending replies are handed out (Write) once 16 KiB are pending,
//   so pipelined commands cannot make the session buffer unbounded replies.
// - Message size: unstuffed body bytes are counted; going over
//   max_message_size yields AbortMessage, the rest of the data is read and
//   discarded, and the reply is `552 5.3.4`.
//
// Used by server/ (the connection driver) and by tests/fuzz.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/reply.hpp"
#include "protocol/smtp_command.hpp"

namespace rp::protocol {

enum class TlsMode {
    none,      // plain listener: no STARTTLS, AUTH only if the listener allows it (see below)
    starttls,  // STARTTLS offered; AUTH and MAIL refused before it
    implicit,  // TLS is already active when the session starts (port 465)
};

struct SessionOptions {
    std::string hostname = "localhost";  // banner, EHLO reply, Received header
    std::uint64_t max_message_size = 35882577;
    std::size_t max_recipients = 100;
    TlsMode tls = TlsMode::starttls;
    // MAIL requires a successful AUTH, unless client_trusted (the client's
    // address is in trusted_networks AND the listener has require_auth:false;
    // the driver computes this).
    bool require_auth = true;
    bool client_trusted = false;
    std::string client_addr;    // after PROXY protocol; for the envelope
    std::string listener;       // listener name; copied into the envelope
    int max_bad_commands = 10;  // then 421 4.7.0 and Close
    // NOOP, VRFY, HELP, HELO/EHLO and unimplemented verbs since the last
    // accepted message; past this many each also counts as a bad command.
    int max_junk_commands = 100;
    int max_auth_failures = 3;  // failed AUTH attempts, then 421 4.7.0 and Close
};

struct EnvelopeRecipient {
    std::string address;  // as written, without angle brackets or source route
    std::string notify;   // DSN NOTIFY= value as given, "" when absent
    std::string orcpt;    // DSN ORCPT= value as given (xtext), "" when absent
};

// What the client asked for, handed to the spool at DATA / first BDAT.
struct Envelope {
    std::string mail_from;  // "" for the null sender <>
    std::vector<EnvelopeRecipient> recipients;
    std::string ret;    // DSN RET= (FULL | HDRS), "" when absent
    std::string envid;  // DSN ENVID= (xtext as given), "" when absent
    bool smtputf8 = false;
    BodyType body = BodyType::none;
    std::uint64_t declared_size = 0;  // MAIL SIZE=, 0 when absent
    std::string helo;                 // the EHLO/HELO argument
    std::string auth_user;            // "" when not authenticated (trusted network)
    std::string client_addr;          // SessionOptions::client_addr
    std::string listener;             // SessionOptions::listener
    bool tls = false;                 // TLS was active for this transaction
    // RFC 3848 "with" keyword for the Received header: SMTP, ESMTP, ESMTPS,
    // ESMTPA or ESMTPSA.
    std::string protocol;
};

namespace action {
struct Write {
    std::string bytes;  // one or more formatted replies
};
struct NeedMore {};
struct StartTls {};
struct VerifyAuth {
    std::string mechanism;  // "PLAIN" or "LOGIN"
    std::string authzid;    // PLAIN authorization identity, "" when absent
    std::string username;
    std::string password;  // never log it
};
struct BeginMessage {
    Envelope envelope;
};
struct MessageData {
    std::string_view bytes;  // valid until the next non-const call on the session
};
struct CommitMessage {
    // Longest DATA line in octets (without CRLF); over 998 breaks RFC 5322
    // but is accepted (for logs). 0 for BDAT, whose octets are not lines.
    std::uint64_t longest_line = 0;
};
// too_big: over max_message_size; write_failed: after message_write_failed();
// cancelled: RSET/EHLO/HELO/QUIT between BDAT chunks. begin_failed is never
// produced (a refused begin leaves nothing to abort); kept for compatibility.
enum class AbortReason { too_big, write_failed, begin_failed, cancelled };
struct AbortMessage {
    AbortReason reason = AbortReason::too_big;
};
struct Close {};
}  // namespace action

using Action =
    std::variant<action::Write, action::NeedMore, action::StartTls, action::VerifyAuth, action::BeginMessage,
                 action::MessageData, action::CommitMessage, action::AbortMessage, action::Close>;

class ServerSession {
  public:
    explicit ServerSession(SessionOptions options);
    ~ServerSession();
    ServerSession(ServerSession&&) noexcept;
    ServerSession& operator=(ServerSession&&) noexcept;

    // 220 <hostname> ESMTP relaypool. The driver writes it first.
    Reply greeting() const;

    // Appends bytes read from the client. May be called at any time; the
    // driver normally calls it after NeedMore.
    void feed(std::string_view bytes);

    // The next thing the driver must do (see the loop above).
    Action next();

    // Results of asynchronous actions.
    void tls_started();
    void auth_result(bool ok);
    // The credentials could not be checked (temporary): `454 4.7.0
    // Temporary authentication failure`; not counted as a failed AUTH, the
    // client may try again.
    void auth_unavailable();
    void message_begun(bool ok);
    void message_write_failed();
    void message_committed(std::string_view id);
    void message_failed();
    // The queue's filesystem is nearly full (the driver asks the spool, see
    // spool::SpoolIntake::storage_low): MAIL gets `452 4.3.1 Insufficient
    // system storage` until it is not. Messages already past MAIL go on.
    void set_storage_low(bool low);

    // Introspection for the driver's logs and metrics.
    bool tls_active() const;
    bool authenticated() const;
    const std::string& auth_user() const;
    const std::string& helo() const;
    bool closed() const;  // Close was returned
    // Client bytes held but not yet processed (bounded: see the invariants).
    std::size_t buffered() const;
    // Part of a command or AUTH line has arrived, not its end (message
    // content does not count: every piece of it is progress).
    bool mid_line() const;
    // Bytes of buffer capacity held (input, replies, message data). While the
    // session waits for a command it is small (a few KiB) whatever came before.
    std::size_t buffer_capacity() const;

    // Data end detection etc. live in DataReader (protocol/data_reader.hpp);
    // the implementation is private.
    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::protocol
