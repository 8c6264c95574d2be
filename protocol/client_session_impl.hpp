// Private state of ClientSession, shared by its three translation units:
// client_session.cpp (the reply queue, dispatch, failure, the driver-facing
// next()), client_auth.cpp (greeting, EHLO, STARTTLS, AUTH) and
// client_transaction.cpp (MAIL, RCPT, DATA/BDAT, body streaming, RSET).
// Not for use outside protocol/client_*.cpp.
//
// Shape: every command we send pushes an Expect (what its reply means, which
// stage, which timeout) onto a queue; replies are matched to the queue in
// order, which makes PIPELINING and the non-pipelined path the same code.
// When nothing is to be written and no reply is expected, `step` says what
// the driver does next (TLS handshake, stream the body, idle, done); `life`
// says where the session is in its life (it replaces the implicit-TLS,
// authenticated, usable and quitting flags); `body_mode` how the current
// message's content goes out.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/client_session.hpp"
#include "protocol/message_filter.hpp"

namespace rp::protocol {

enum class ExpectKind {
    greeting,
    ehlo,
    starttls,
    auth,
    mail,
    rcpt,
    data,
    bdat_chunk,
    body_end,
    ignore,
    rset,
    quit
};

struct Expect {
    ExpectKind kind;
    Stage stage;
    std::chrono::milliseconds timeout;
    std::size_t index = 0;  // rcpt: recipient index
};

// What the driver does when nothing is to be written or read.
enum class Step { wait_replies, need_tls, body, idle, done };

// The session's life, in order (comparisons rely on it):
// implicit_tls  implicit TLS: the handshake comes before the greeting;
// opening       greeting, EHLO, STARTTLS, AUTH;
// ready         authenticated (or no credentials): messages may be sent;
// quitting      QUIT written: failures now just end the session;
// closed        QUIT failed or went unanswered after quitting.
enum class Life { implicit_tls, opening, ready, quitting, closed };

// How a message's content is sent: DATA after the RCPT replies, DATA
// pipelined with MAIL/RCPT, or BDAT chunks (RFC 3030).
enum class BodyMode { data, data_pipelined, bdat };

inline UpstreamOutcome outcome_of(Stage stage, const UpstreamReply& r) {
    return UpstreamOutcome{stage, r.code, r.enhanced, r.text(), LocalFailure::none};
}

struct ClientSession::Impl {
    ClientConfig cfg;
    UpstreamReplyParser parser;
    std::deque<Expect> expects;
    Step step = Step::wait_replies;
    Life life = Life::opening;
    bool secure = false;
    EhloCapabilities caps;

    // The pending write.
    std::string out;
    std::chrono::milliseconds out_timeout{0};
    bool out_sensitive = false;

    // Failure state: `failure` set means next() returns Failed (after `quit_out`).
    std::optional<UpstreamOutcome> failure;
    std::string quit_out;

    // AUTH progress.
    AuthMechanism mechanism = AuthMechanism::automatic;  // resolved
    int auth_challenges = 0;
    std::string xoauth2_error;

    // The message in progress.
    bool in_message = false;
    OutgoingMessage msg;
    std::vector<std::optional<UpstreamOutcome>> results;
    std::vector<bool> accepted;
    bool mail_ok = false;
    bool end_sent = false;   // body_end() queued the end of the message
    bool pipelined = false;  // MAIL + RCPTs in one write
    BodyMode body_mode = BodyMode::data;
    std::optional<MessageFilter> filter;
    DotStuffer stuffer;
    std::string bdat_buf;
    std::optional<MessageResult> result;
    std::size_t messages_started = 0;

    explicit Impl(ClientConfig c);

    bool authenticated() const { return cfg.credentials && life >= Life::ready; }
    bool quitting() const { return life >= Life::quitting; }
    bool usable() const { return life < Life::quitting && !failure; }

    // client_session.cpp: writing, the reply queue, failure, dispatch.
    void expect(ExpectKind kind, Stage stage, std::chrono::milliseconds timeout, std::size_t index = 0);
    void send(std::string_view bytes, std::chrono::milliseconds timeout, bool sensitive = false);
    void command(std::string line, ExpectKind kind, Stage stage, std::chrono::milliseconds timeout,
                 bool sensitive = false);
    void fail(UpstreamOutcome o, bool polite);
    static UpstreamOutcome session_outcome(Stage stage, const UpstreamReply& r);
    void fail_reply(Stage stage, const UpstreamReply& r);
    Stage current_stage() const;
    void on_reply(const Expect& e, const UpstreamReply& r);
    ClientAction next();
    void tls_established();
    void on_failure(LocalFailure kind, std::string text);
    void quit();

    // client_auth.cpp: from the greeting to ready.
    void on_greeting(const UpstreamReply& r);
    void send_ehlo();
    void on_ehlo(const UpstreamReply& r);
    void on_starttls(const UpstreamReply& r);
    std::optional<AuthMechanism> choose_mechanism(AuthMechanism configured) const;
    void start_auth();
    std::optional<std::string> auth_response(const UpstreamReply& r);
    void on_auth(const UpstreamReply& r);
    void go_idle();

    // client_transaction.cpp: one message.
    void finish_message_with(const UpstreamOutcome& o);
    void close_message();
    void settle_accepted(const UpstreamOutcome& o);
    bool any_accepted() const;
    void end_message();
    std::string mail_command() const;
    std::string rcpt_command(std::size_t i) const;
    void begin(OutgoingMessage m);
    void send_rcpt(std::size_t i);
    void on_mail(const UpstreamReply& r);
    void on_rcpt(std::size_t i, const UpstreamReply& r);
    void on_data(const UpstreamReply& r);
    void on_bdat_chunk(const UpstreamReply& r);
    void on_body_end(const UpstreamReply& r);
    void on_rset(const UpstreamReply& r);
    void emit_bdat(std::string_view chunk, bool last);
    void body_data(std::string_view raw);
    void body_end();
};

}  // namespace rp::protocol
