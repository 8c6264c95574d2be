// ServerSession verbs: one table row per SMTP verb with a `check` half
// (state and arguments -> an error reply, or nothing) and a `proceed` half
// (changes state, queues the reply or an action), in the manner of
// OpenSMTPD's commands[] table.
#include <array>

#include "protocol/server_session_impl.hpp"

namespace rp::protocol {
namespace {

using Impl = ServerSession::Impl;
using Check = std::optional<Reply> (*)(const Impl&, const Command&);
using Proceed = void (*)(Impl&, Command&);

struct VerbRow {
    Verb verb;
    Check check;  // nullptr: always allowed
    Proceed proceed;
};

std::optional<Reply> need_hello(const Impl& s) {
    if (s.helo.empty()) return Reply::bad_sequence("Send HELO/EHLO first");
    return std::nullopt;
}

// --- HELO / EHLO ---
void proceed_hello(Impl& s, Command& cmd) {
    s.abort_if_begun(action::AbortReason::cancelled);
    s.reset_transaction();
    s.helo = cmd.argument;
    s.esmtp = cmd.verb == Verb::ehlo;
    if (!s.esmtp) {
        s.reply(Reply{250, "", {s.opt.hostname}});
        return;
    }
    Reply r{250,
            "",
            {s.opt.hostname, "PIPELINING", "SIZE " + std::to_string(s.opt.max_message_size), "8BITMIME",
             "SMTPUTF8", "ENHANCEDSTATUSCODES"}};
    if (s.opt.tls == TlsMode::starttls && !s.tls_active) r.lines.push_back("STARTTLS");
    if (s.tls_active) r.lines.push_back("AUTH PLAIN LOGIN");
    r.lines.push_back("CHUNKING");
    s.reply(r);
}

// --- MAIL ---
std::optional<Reply> check_mail(const Impl& s, const Command& cmd) {
    if (auto r = need_hello(s)) return r;
    if (s.opt.tls == TlsMode::starttls && !s.tls_active) return Reply::must_starttls();
    if (!s.authenticated && !s.mail_allowed_without_auth()) return Reply::auth_required();
    if (s.txn.active) return Reply::bad_sequence("Sender already specified");
    if (cmd.mail.size && *cmd.mail.size > s.opt.max_message_size) return Reply::message_too_big();
    if (s.storage_low) return Reply::storage_failed();
    return std::nullopt;
}

void proceed_mail(Impl& s, Command& cmd) {
    s.reset_transaction();
    s.txn.active = true;
    Envelope& e = s.txn.envelope;
    e.mail_from = cmd.mail.path.address;
    e.ret = cmd.mail.ret;
    e.envid = cmd.mail.envid;
    e.smtputf8 = cmd.mail.smtputf8;
    e.body = cmd.mail.body;
    e.declared_size = cmd.mail.size.value_or(0);
    s.reply(Reply::sender_ok());
}

// --- RCPT ---
std::optional<Reply> check_rcpt(const Impl& s, const Command& cmd) {
    if (!s.txn.active) return Reply::bad_sequence("Need MAIL command");
    if (s.txn.bdat_started) return Reply::bad_sequence("RCPT not allowed after BDAT");
    if (cmd.rcpt.path.utf8 && !s.txn.envelope.smtputf8) return Reply::utf8_required();
    if (s.txn.envelope.recipients.size() >= s.opt.max_recipients) return Reply::too_many_recipients();
    return std::nullopt;
}

void proceed_rcpt(Impl& s, Command& cmd) {
    auto& rcpts = s.txn.envelope.recipients;
    // A repeated recipient is acknowledged but stored once (one delivery).
    bool duplicate = false;
    for (const auto& r : rcpts) duplicate = duplicate || r.address == cmd.rcpt.path.address;
    if (!duplicate) rcpts.push_back({cmd.rcpt.path.address, cmd.rcpt.notify, cmd.rcpt.orcpt});
    s.reply(Reply::recipient_ok());
}

// --- DATA / BDAT ---
std::optional<Reply> check_message_start(const Impl& s) {
    if (!s.txn.active) return Reply::bad_sequence("Need MAIL command");
    if (s.txn.envelope.recipients.empty())
        return Reply::make(554, esc::invalid_command, "No valid recipients");
    return std::nullopt;
}

std::optional<Reply> check_data(const Impl& s, const Command&) {
    if (auto r = check_message_start(s)) return r;
    if (s.txn.bdat_started) return Reply::bad_sequence("DATA not allowed after BDAT");
    return std::nullopt;
}

void proceed_data(Impl& s, Command&) {
    s.start_data();
}

// BDAT's check is special: a refused chunk must still be read, so the
// refusal goes to start_bdat instead of being replied at once.
void proceed_bdat(Impl& s, Command& cmd) {
    std::optional<Reply> refuse = check_message_start(s);
    if (!refuse && s.txn.body_size + cmd.bdat.size > s.opt.max_message_size)
        refuse = Reply::message_too_big();
    s.start_bdat(cmd.bdat, std::move(refuse));
}

// --- RSET / NOOP / QUIT / VRFY / HELP / others ---
void proceed_rset(Impl& s, Command&) {
    s.abort_if_begun(action::AbortReason::cancelled);
    s.reset_transaction();
    s.reply(Reply::ok());
}
void proceed_noop(Impl& s, Command&) {
    s.reply(Reply::ok());
}
void proceed_quit(Impl& s, Command&) {
    s.close_with(Reply::closing(s.opt.hostname));
}
void proceed_vrfy(Impl& s, Command&) {
    s.reply(Reply::cannot_verify());
}
void proceed_help(Impl& s, Command&) {
    s.reply(Reply::help());
}
void proceed_not_implemented(Impl& s, Command&) {
    s.reply(Reply::not_implemented("Command not implemented"));
}
void proceed_non_smtp(Impl& s, Command&) {
    s.close_with(Reply::not_smtp());
}

// --- STARTTLS ---
std::optional<Reply> check_starttls(const Impl& s, const Command&) {
    if (s.tls_active) return Reply::bad_sequence("TLS already active");
    if (s.opt.tls != TlsMode::starttls) return Reply::not_implemented("STARTTLS not available");
    if (s.txn.active) return Reply::bad_sequence("STARTTLS not allowed during a mail transaction");
    return std::nullopt;
}

void proceed_starttls(Impl& s, Command&) {
    s.reply(Reply::ready_for_tls());
    // Command injection defence: nothing sent with STARTTLS survives it.
    s.in.clear();
    s.in_pos = 0;
    s.set_pending(action::StartTls{});
}

// --- AUTH ---
std::optional<Reply> check_auth(const Impl& s, const Command& cmd) {
    if (!s.esmtp) return Reply::bad_sequence("Send EHLO first");
    if (s.opt.tls == TlsMode::starttls && !s.tls_active) return Reply::must_starttls();
    if (!s.tls_active)
        return Reply::make(538, esc::encryption_required,
                           "Encryption required for requested authentication mechanism");
    if (s.authenticated) return Reply::already_authenticated();
    if (s.txn.active) return Reply::bad_sequence("AUTH not allowed during a mail transaction");
    if (cmd.auth.mechanism != "PLAIN" && cmd.auth.mechanism != "LOGIN")
        return Reply::auth_mechanism_unsupported();
    return std::nullopt;
}

void take_sasl_step(Impl& s, SaslStep step) {
    switch (step.kind) {
        case SaslStep::Kind::challenge:
            s.mode = Mode::sasl;
            s.reply(step.reply);
            return;
        case SaslStep::Kind::done:
            s.mode = Mode::command;
            s.auth_pending_user = step.credentials.username;
            s.set_pending(action::VerifyAuth{s.sasl->mechanism(), std::move(step.credentials.authzid),
                                             std::move(step.credentials.username),
                                             std::move(step.credentials.password)});
            s.sasl.reset();
            return;
        case SaslStep::Kind::error:
            s.mode = Mode::command;
            s.sasl.reset();
            s.reply(step.reply);
            return;
    }
}

void proceed_auth(Impl& s, Command& cmd) {
    s.sasl = SaslServer::create(cmd.auth.mechanism);
    take_sasl_step(s, s.sasl->start(cmd.auth.initial_response));
}

constexpr std::array kVerbTable{
    VerbRow{Verb::helo, nullptr, proceed_hello},
    VerbRow{Verb::ehlo, nullptr, proceed_hello},
    VerbRow{Verb::mail, check_mail, proceed_mail},
    VerbRow{Verb::rcpt, check_rcpt, proceed_rcpt},
    VerbRow{Verb::data, check_data, proceed_data},
    VerbRow{Verb::bdat, nullptr, proceed_bdat},
    VerbRow{Verb::rset, nullptr, proceed_rset},
    VerbRow{Verb::noop, nullptr, proceed_noop},
    VerbRow{Verb::quit, nullptr, proceed_quit},
    VerbRow{Verb::vrfy, nullptr, proceed_vrfy},
    VerbRow{Verb::help, nullptr, proceed_help},
    VerbRow{Verb::starttls, check_starttls, proceed_starttls},
    VerbRow{Verb::auth, check_auth, proceed_auth},
    VerbRow{Verb::not_implemented, nullptr, proceed_not_implemented},
    VerbRow{Verb::non_smtp, nullptr, proceed_non_smtp},
};

}  // namespace

namespace {
// Commands that move no mail (Postfix's "junk commands", plus HELP and
// EHLO, whose replies are large). RSET is not one: clients send it between
// messages.
bool is_junk(Verb v) {
    return v == Verb::noop || v == Verb::vrfy || v == Verb::help || v == Verb::helo || v == Verb::ehlo ||
           v == Verb::not_implemented;
}
}  // namespace

void ServerSession::Impl::dispatch(Command& cmd) {
    // Past the junk limit each one counts toward max_bad_commands: a client
    // cannot hold a connection forever with a NOOP every few minutes.
    const bool over_junk_limit = is_junk(cmd.verb) && ++junk_commands > opt.max_junk_commands;
    for (const auto& row : kVerbTable) {
        if (row.verb != cmd.verb) continue;
        if (row.check) {
            if (auto err = row.check(*this, cmd)) {
                reply(*err);  // (no junk verb has a check)
                return;
            }
        }
        row.proceed(*this, cmd);
        if (over_junk_limit) count_bad_command();
        return;
    }
    reply(Reply::unknown_command());
}

void ServerSession::Impl::sasl_line(std::string_view line) {
    take_sasl_step(*this, sasl->respond(line));
}

std::string ServerSession::Impl::protocol_name() const {
    if (!esmtp) return "SMTP";
    std::string p = "ESMTP";
    if (tls_active) p += 'S';
    if (authenticated) p += 'A';
    return p;
}

bool ServerSession::Impl::mail_allowed_without_auth() const {
    // No open relay: only a trusted client on a listener that does not
    // require AUTH may skip it (both conditions, whatever the driver passes).
    return opt.client_trusted && !opt.require_auth;
}

}  // namespace rp::protocol
