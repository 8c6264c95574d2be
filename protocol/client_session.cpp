// The upstream client session state machine (see client_session.hpp).
//
// Shape: every command we send pushes an Expect (what its reply means, which
// stage, which timeout) onto a queue; replies are matched to the queue in
// order, which makes PIPELINING and the non-pipelined path the same code.
// When nothing is to be written and no reply is expected, `phase_` says
// what the driver does next (TLS handshake, stream the body, idle, done).
#include "protocol/client_session.hpp"

#include <algorithm>
#include <deque>

#include "protocol/base64.hpp"
#include "protocol/sasl_client.hpp"

namespace rp::protocol {
namespace {

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

enum class Phase { wait_replies, need_tls, body, idle, done };

UpstreamOutcome outcome_of(Stage stage, const UpstreamReply& r) {
    return UpstreamOutcome{stage, r.code, r.enhanced, r.text(), LocalFailure::none};
}

std::string crlf(std::string s) {
    return s + "\r\n";
}

}  // namespace

std::string_view to_string(AuthMechanism m) {
    switch (m) {
        case AuthMechanism::automatic:
            return "automatic";
        case AuthMechanism::plain:
            return "PLAIN";
        case AuthMechanism::login:
            return "LOGIN";
        case AuthMechanism::xoauth2:
            return "XOAUTH2";
    }
    return "unknown";
}

bool MessageResult::delivered(std::size_t i) const {
    return i < recipients.size() && recipients[i].stage == Stage::body && recipients[i].code / 100 == 2 &&
           recipients[i].local == LocalFailure::none;
}

UpstreamOutcome local_outcome(Stage stage, LocalFailure kind, std::string text) {
    return UpstreamOutcome{stage, 0, "", std::move(text), kind};
}

struct ClientSession::Impl {
    ClientConfig cfg;
    UpstreamReplyParser parser;
    std::deque<Expect> expects;
    Phase phase = Phase::wait_replies;
    bool implicit_pending = false;  // implicit TLS: the handshake comes before the greeting
    bool secure = false;
    bool authenticated = false;
    bool usable = true;
    bool quitting = false;
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
    bool pipelined = false;
    bool data_pipelined = false;  // DATA went with MAIL/RCPT
    bool use_bdat = false;
    std::optional<MessageFilter> filter;
    DotStuffer stuffer;
    std::string bdat_buf;
    std::optional<MessageResult> result;
    std::size_t messages_started = 0;

    explicit Impl(ClientConfig c) : cfg(std::move(c)) {
        if (cfg.tls == ClientTls::implicit) {
            phase = Phase::need_tls;
            implicit_pending = true;
        } else {
            expect(ExpectKind::greeting, Stage::greeting, cfg.timeouts.greeting);
        }
    }

    void expect(ExpectKind kind, Stage stage, std::chrono::milliseconds timeout, std::size_t index = 0) {
        expects.push_back(Expect{kind, stage, timeout, index});
    }

    void send(std::string_view bytes, std::chrono::milliseconds timeout, bool sensitive = false) {
        out.append(bytes);
        out_timeout = timeout;
        out_sensitive = out_sensitive || sensitive;
    }

    void command(std::string line, ExpectKind kind, Stage stage, std::chrono::milliseconds timeout,
                 bool sensitive = false) {
        send(crlf(std::move(line)), timeout, sensitive);
        expect(kind, stage, timeout);
        phase = Phase::wait_replies;
    }

    // ---- failure ---------------------------------------------------------
    // Records the session failure; pending recipients of a message in
    // progress get the same outcome. `polite`: the connection still works,
    // so say QUIT before closing.
    void fail(UpstreamOutcome o, bool polite) {
        if (failure) return;
        finish_message_with(o);
        usable = false;
        expects.clear();
        out.clear();
        out_sensitive = false;
        if (polite) quit_out = "QUIT\r\n";
        failure = std::move(o);
    }

    // A reply that ends the session. A 2xx/3xx here is a reply out of
    // sequence (250 to the greeting, 220 to AUTH): it must never read as
    // "delivered", so it is reported as a protocol failure.
    static UpstreamOutcome session_outcome(Stage stage, const UpstreamReply& r) {
        UpstreamOutcome o = outcome_of(stage, r);
        if (r.code < 400) {
            o.local = LocalFailure::protocol;
            o.text = "unexpected reply " + std::to_string(r.code) + ": " + o.text;
        }
        return o;
    }

    void fail_reply(Stage stage, const UpstreamReply& r) { fail(session_outcome(stage, r), r.code != 421); }

    Stage current_stage() const {
        if (!expects.empty()) return expects.front().stage;
        if (phase == Phase::need_tls) return Stage::tls;
        if (phase == Phase::body) return Stage::body;
        if (phase == Phase::idle) return Stage::rset;
        return Stage::quit;
    }

    // ---- message bookkeeping ---------------------------------------------
    void finish_message_with(const UpstreamOutcome& o) {
        if (!in_message) return;
        for (auto& r : results)
            if (!r) r = o;
        close_message();
    }

    void close_message() {
        MessageResult mr;
        for (auto& r : results) mr.recipients.push_back(r ? std::move(*r) : UpstreamOutcome{});
        result = std::move(mr);
        in_message = false;
        filter.reset();
        bdat_buf.clear();
    }

    // Pending (accepted, not yet final) recipients get `o`.
    void settle_accepted(const UpstreamOutcome& o) {
        for (std::size_t i = 0; i < results.size(); ++i)
            if (accepted[i] && !results[i]) results[i] = o;
    }

    bool any_accepted() const {
        for (std::size_t i = 0; i < accepted.size(); ++i)
            if (accepted[i] && !results[i]) return true;
        return false;
    }

    // The transaction is over: record the result, RSET before anything else.
    void end_message() {
        finish_message_with(UpstreamOutcome{Stage::body, 0, "", "no reply", LocalFailure::protocol});
        command("RSET", ExpectKind::rset, Stage::rset, cfg.timeouts.command);
    }

    // ---- EHLO / STARTTLS / AUTH ---------------------------------------------
    void send_ehlo() {
        command("EHLO " + cfg.ehlo_hostname, ExpectKind::ehlo, Stage::ehlo, cfg.timeouts.command);
    }

    void on_ehlo(const UpstreamReply& r) {
        if (r.code != 250) return fail_reply(Stage::ehlo, r);
        caps = parse_ehlo(r);
        if (cfg.tls == ClientTls::starttls && !secure) {
            if (!caps.starttls)
                return fail(local_outcome(Stage::starttls, LocalFailure::tls_handshake,
                                          "upstream does not offer STARTTLS"),
                            true);
            return command("STARTTLS", ExpectKind::starttls, Stage::starttls, cfg.timeouts.command);
        }
        start_auth();
    }

    void on_starttls(const UpstreamReply& r) {
        if (r.code != 220) return fail_reply(Stage::starttls, r);
        // Anything after the 220 was sent before TLS: a man in the middle
        // injecting commands (CVE-2011-0411 style). Never act on it.
        if (parser.buffered() > 0)
            return fail(
                local_outcome(Stage::starttls, LocalFailure::protocol, "data after the STARTTLS reply"),
                false);
        phase = Phase::need_tls;
    }

    std::optional<AuthMechanism> choose_mechanism(AuthMechanism configured) const {
        if (configured == AuthMechanism::automatic) {
            if (caps.offers_auth("PLAIN")) return AuthMechanism::plain;
            if (caps.offers_auth("LOGIN")) return AuthMechanism::login;
            return std::nullopt;
        }
        if (caps.offers_auth(to_string(configured))) return configured;
        return std::nullopt;
    }

    void start_auth() {
        if (!cfg.credentials) return go_idle();
        const auto& cred = *cfg.credentials;
        auto chosen = choose_mechanism(cred.mechanism);
        if (!chosen) {
            std::string offered;
            for (const auto& m : caps.auth) offered += (offered.empty() ? "" : " ") + m;
            return fail(
                local_outcome(Stage::auth, LocalFailure::protocol,
                              "upstream does not offer AUTH " + std::string(to_string(cred.mechanism)) +
                                  " (offered: " + offered + ")"),
                true);
        }
        mechanism = *chosen;
        switch (mechanism) {
            case AuthMechanism::plain:
                return command("AUTH PLAIN " + sasl_plain_response(cred.username, cred.secret),
                               ExpectKind::auth, Stage::auth, cfg.timeouts.command, true);
            case AuthMechanism::xoauth2:
                return command("AUTH XOAUTH2 " + sasl_xoauth2_response(cred.username, cred.secret),
                               ExpectKind::auth, Stage::auth, cfg.timeouts.command, true);
            default:
                return command("AUTH LOGIN", ExpectKind::auth, Stage::auth, cfg.timeouts.command);
        }
    }

    // The answer to the n-th 334 challenge; nullopt when the mechanism has
    // nothing more to say (the session then fails: never a second attempt).
    std::optional<std::string> auth_response(const UpstreamReply& r) {
        const auto& cred = *cfg.credentials;
        const int n = auth_challenges++;
        switch (mechanism) {
            case AuthMechanism::plain:  // server ignored the initial response
                if (n == 0) return sasl_plain_response(cred.username, cred.secret);
                return std::nullopt;
            case AuthMechanism::login:
                if (n == 0) return sasl_login_username(cred.username);
                if (n == 1) return sasl_login_password(cred.secret);
                return std::nullopt;
            case AuthMechanism::xoauth2:  // the 334 carries a JSON error; an empty line gets the 5xx
                if (n == 0) {
                    xoauth2_error = base64_decode(r.text()).value_or(r.text());
                    return std::string();
                }
                return std::nullopt;
            default:
                return std::nullopt;
        }
    }

    void on_auth(const UpstreamReply& r) {
        if (r.code == 334) {
            auto response = auth_response(r);
            if (!response)
                return fail(local_outcome(Stage::auth, LocalFailure::protocol, "unexpected AUTH challenge"),
                            true);
            return command(*response, ExpectKind::auth, Stage::auth, cfg.timeouts.command, true);
        }
        if (r.code != 235) {
            UpstreamOutcome o = session_outcome(Stage::auth, r);
            if (!xoauth2_error.empty()) o.text += " (xoauth2: " + xoauth2_error + ")";
            return fail(o, r.code != 421);
        }
        authenticated = true;
        go_idle();
    }

    void go_idle() { phase = Phase::idle; }

    // ---- the transaction ----------------------------------------------------
    std::string mail_command() const {
        std::string line = "MAIL FROM:<" + msg.mail_from + ">";
        if (caps.size && msg.size > 0) line += " SIZE=" + std::to_string(msg.size);
        if (msg.body_8bitmime && caps.eightbitmime) line += " BODY=8BITMIME";
        if (msg.smtputf8 && caps.smtputf8) line += " SMTPUTF8";
        return line;
    }

    std::string rcpt_command(std::size_t i) const { return "RCPT TO:<" + msg.recipients[i] + ">"; }

    void begin(OutgoingMessage m) {
        msg = std::move(m);
        in_message = true;
        result.reset();
        results.assign(msg.recipients.size(), std::nullopt);
        accepted.assign(msg.recipients.size(), false);
        mail_ok = false;
        ++messages_started;
        pipelined = cfg.use_pipelining && caps.pipelining;
        use_bdat = cfg.use_chunking && caps.chunking;
        data_pipelined = pipelined && !use_bdat;
        filter.emplace(msg.filter);
        stuffer = DotStuffer{};
        bdat_buf.clear();
        command(mail_command(), ExpectKind::mail, Stage::mail, cfg.timeouts.mail);
        if (!pipelined) return;
        for (std::size_t i = 0; i < msg.recipients.size(); ++i) send_rcpt(i);
        if (data_pipelined) command("DATA", ExpectKind::data, Stage::data, cfg.timeouts.data_init);
    }

    void send_rcpt(std::size_t i) {
        command(rcpt_command(i), ExpectKind::rcpt, Stage::rcpt, cfg.timeouts.rcpt);
        expects.back().index = i;
    }

    void on_mail(const UpstreamReply& r) {
        if (r.code == 421) return fail_reply(Stage::mail, r);
        if (!r.positive()) {
            const auto o = outcome_of(Stage::mail, r);
            for (auto& x : results) x = o;
            if (!pipelined) end_message();  // pipelined: RCPT/DATA replies still to consume
            return;
        }
        mail_ok = true;
        if (!pipelined) send_rcpt(0);
    }

    void on_rcpt(std::size_t i, const UpstreamReply& r) {
        if (r.code == 421) return fail_reply(Stage::rcpt, r);
        if (mail_ok) {
            if (r.positive())
                accepted[i] = true;
            else
                results[i] = outcome_of(Stage::rcpt, r);
        }
        const bool last = i + 1 == msg.recipients.size();
        if (!pipelined && !last) return send_rcpt(i + 1);
        if (!last || data_pipelined) return;  // the DATA reply decides
        if (!any_accepted()) return end_message();
        if (use_bdat) {
            phase = Phase::body;
            return;
        }
        command("DATA", ExpectKind::data, Stage::data, cfg.timeouts.data_init);
    }

    void on_data(const UpstreamReply& r) {
        if (r.code == 421) return fail_reply(Stage::data, r);
        const bool wanted = mail_ok && any_accepted();
        if (r.code == 354) {
            if (wanted) {
                phase = Phase::body;
                return;
            }
            // RFC 2920 3.1: DATA accepted with no valid recipient: send an
            // empty message so the server rejects it, then RSET.
            send(".\r\n", cfg.timeouts.data_end);
            expect(ExpectKind::ignore, Stage::body, cfg.timeouts.data_end);
            return;
        }
        if (r.positive())
            return fail_reply(Stage::data, r);  // 2xx to DATA: no body was sent, never "delivered"
        if (wanted) settle_accepted(outcome_of(Stage::data, r));
        end_message();
    }

    void on_bdat_chunk(const UpstreamReply& r) {
        if (r.code == 421) return fail_reply(Stage::body, r);
        if (r.positive()) return;
        settle_accepted(outcome_of(Stage::body, r));
        end_message();  // RFC 3030: after a failed BDAT the transaction is over; RSET
    }

    void on_body_end(const UpstreamReply& r) {
        if (r.code == 421) return fail_reply(Stage::body, r);
        settle_accepted(outcome_of(Stage::body, r));
        end_message();
    }

    void on_rset(const UpstreamReply& r) {
        if (r.code != 250) return fail_reply(Stage::rset, r);
        go_idle();
    }

    // ---- body streaming ---------------------------------------------------------
    void emit_bdat(std::string_view chunk, bool last) {
        std::string head = "BDAT " + std::to_string(chunk.size()) + (last ? " LAST" : "");
        send(crlf(std::move(head)), cfg.timeouts.data_block);
        send(chunk, cfg.timeouts.data_block);
        if (last)
            expect(ExpectKind::body_end, Stage::body, cfg.timeouts.data_end);
        else
            expect(ExpectKind::bdat_chunk, Stage::body, cfg.timeouts.data_block);
    }

    void body_data(std::string_view raw) {
        if (phase != Phase::body || failure) return;
        std::string filtered;
        filter->feed(raw, filtered);
        if (!use_bdat) {
            stuffer.feed(filtered, out);
            out_timeout = cfg.timeouts.data_block;
            return;
        }
        bdat_buf += filtered;
        if (bdat_buf.size() < cfg.bdat_chunk_size) return;
        emit_bdat(bdat_buf, false);
        bdat_buf.clear();
    }

    void body_end() {
        if (phase != Phase::body || failure) return;
        std::string filtered;
        filter->finish(filtered);
        phase = Phase::wait_replies;
        if (use_bdat) {
            bdat_buf += filtered;
            emit_bdat(bdat_buf, true);
            bdat_buf.clear();
            return;
        }
        stuffer.feed(filtered, out);
        stuffer.finish(out);
        out_timeout = cfg.timeouts.data_block;
        expect(ExpectKind::body_end, Stage::body, cfg.timeouts.data_end);
    }

    // ---- dispatch -----------------------------------------------------------------
    void on_reply(const Expect& e, const UpstreamReply& r) {
        switch (e.kind) {
            case ExpectKind::greeting:
                if (r.code != 220) return fail_reply(Stage::greeting, r);
                return send_ehlo();
            case ExpectKind::ehlo:
                return on_ehlo(r);
            case ExpectKind::starttls:
                return on_starttls(r);
            case ExpectKind::auth:
                return on_auth(r);
            case ExpectKind::mail:
                return on_mail(r);
            case ExpectKind::rcpt:
                return on_rcpt(e.index, r);
            case ExpectKind::data:
                return on_data(r);
            case ExpectKind::bdat_chunk:
                return on_bdat_chunk(r);
            case ExpectKind::body_end:
                return on_body_end(r);
            case ExpectKind::ignore:
                if (r.code == 421) return fail_reply(e.stage, r);
                return end_message();
            case ExpectKind::rset:
                return on_rset(r);
            case ExpectKind::quit:
                phase = Phase::done;
                return;
        }
    }

    ClientAction next() {
        for (;;) {
            if (failure) {
                if (!quit_out.empty()) {
                    client_action::Write w{std::move(quit_out), cfg.timeouts.quit, false};
                    quit_out.clear();
                    return w;
                }
                return client_action::Failed{*failure};
            }
            if (!out.empty()) {
                client_action::Write w{std::move(out), out_timeout, out_sensitive};
                out.clear();
                out_sensitive = false;
                return w;
            }
            if (!expects.empty()) {
                UpstreamReply r;
                switch (parser.next(r)) {
                    case ReplyParseStatus::need_more:
                        return client_action::ReadReply{expects.front().timeout, expects.front().stage};
                    case ReplyParseStatus::error:
                        if (quitting) {
                            expects.clear();
                            phase = Phase::done;
                            continue;
                        }
                        fail(local_outcome(expects.front().stage, LocalFailure::protocol,
                                           "unparseable reply: " + parser.error()),
                             false);
                        continue;
                    case ReplyParseStatus::reply: {
                        Expect e = expects.front();
                        expects.pop_front();
                        on_reply(e, r);
                        continue;
                    }
                }
            }
            switch (phase) {
                case Phase::need_tls:
                    return client_action::StartTls{};
                case Phase::body:
                    return client_action::SendBody{cfg.timeouts.data_block};
                case Phase::idle:
                    return client_action::Idle{};
                case Phase::done:
                    return client_action::Done{};
                case Phase::wait_replies:
                    // Nothing to write, nothing expected: cannot happen; fail loudly but safely.
                    fail(local_outcome(current_stage(), LocalFailure::protocol, "client session stalled"),
                         false);
                    continue;
            }
        }
    }

    void tls_established() {
        if (phase != Phase::need_tls || failure) return;
        secure = true;
        parser = UpstreamReplyParser{};
        caps = EhloCapabilities{};
        if (implicit_pending) {
            implicit_pending = false;
            phase = Phase::wait_replies;
            expect(ExpectKind::greeting, Stage::greeting, cfg.timeouts.greeting);
            return;
        }
        send_ehlo();
    }

    void on_failure(LocalFailure kind, std::string text) {
        if (failure) return;
        if (quitting) {
            expects.clear();
            out.clear();
            phase = Phase::done;
            usable = false;
            return;
        }
        Stage stage = current_stage();
        if (kind == LocalFailure::tls_handshake || kind == LocalFailure::tls_verify) stage = Stage::tls;
        fail(local_outcome(stage, kind, std::move(text)), false);
    }

    void quit() {
        if (phase != Phase::idle || failure) return;
        quitting = true;
        usable = false;
        command("QUIT", ExpectKind::quit, Stage::quit, cfg.timeouts.quit);
    }
};

ClientSession::ClientSession(ClientConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
ClientSession::~ClientSession() = default;
ClientSession::ClientSession(ClientSession&&) noexcept = default;
ClientSession& ClientSession::operator=(ClientSession&&) noexcept = default;

ClientAction ClientSession::next() {
    return impl_->next();
}
void ClientSession::on_bytes(std::string_view bytes) {
    impl_->parser.feed(bytes);
}
void ClientSession::tls_established() {
    impl_->tls_established();
}
void ClientSession::on_failure(LocalFailure kind, std::string text) {
    impl_->on_failure(kind, std::move(text));
}

bool ClientSession::begin_message(OutgoingMessage message) {
    Impl& s = *impl_;
    if (s.phase != Phase::idle || s.failure || !s.usable || s.in_message || message.recipients.empty())
        return false;
    // Defence in depth against command injection (SMTP smuggling): intake
    // validates addresses, but a CR, LF or NUL must never reach the wire.
    auto unsafe = [](const std::string& a) {
        return a.find_first_of(std::string_view("\r\n\0", 3)) != a.npos;
    };
    if (unsafe(message.mail_from) ||
        std::any_of(message.recipients.begin(), message.recipients.end(), unsafe))
        return false;
    s.begin(std::move(message));
    return true;
}

void ClientSession::body_data(std::string_view raw) {
    impl_->body_data(raw);
}
void ClientSession::body_end() {
    impl_->body_end();
}
void ClientSession::quit() {
    impl_->quit();
}

std::optional<MessageResult> ClientSession::take_message_result() {
    auto r = std::move(impl_->result);
    impl_->result.reset();
    return r;
}

const EhloCapabilities& ClientSession::capabilities() const {
    return impl_->caps;
}
bool ClientSession::authenticated() const {
    return impl_->authenticated;
}
bool ClientSession::secure() const {
    return impl_->secure;
}
std::size_t ClientSession::messages_started() const {
    return impl_->messages_started;
}
bool ClientSession::reusable() const {
    return impl_->usable && !impl_->failure;
}

}  // namespace rp::protocol
