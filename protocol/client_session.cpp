// The upstream client session state machine (see client_session.hpp), core
// half: the write buffer and the reply queue, failure, reply dispatch, the
// driver-facing next() and the public wrappers. The opening (EHLO, STARTTLS,
// AUTH) is in client_auth.cpp, one message in client_transaction.cpp; the
// shared state and its invariants in client_session_impl.hpp.
#include "protocol/client_session.hpp"

#include <algorithm>

#include "protocol/client_session_impl.hpp"

namespace rp::protocol {

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

ClientSession::Impl::Impl(ClientConfig c) : cfg(std::move(c)) {
    if (cfg.tls == ClientTls::implicit) {
        step = Step::need_tls;
        life = Life::implicit_tls;
    } else {
        expect(ExpectKind::greeting, Stage::greeting, cfg.timeouts.greeting);
    }
}

void ClientSession::Impl::expect(ExpectKind kind, Stage stage, std::chrono::milliseconds timeout,
                                 std::size_t index) {
    expects.push_back(Expect{kind, stage, timeout, index});
}

void ClientSession::Impl::send(std::string_view bytes, std::chrono::milliseconds timeout, bool sensitive) {
    out.append(bytes);
    out_timeout = timeout;
    out_sensitive = out_sensitive || sensitive;
}

void ClientSession::Impl::command(std::string line, ExpectKind kind, Stage stage,
                                  std::chrono::milliseconds timeout, bool sensitive) {
    line += "\r\n";
    send(line, timeout, sensitive);
    expect(kind, stage, timeout);
    step = Step::wait_replies;
}

// ---- failure ---------------------------------------------------------------
// Records the session failure; pending recipients of a message in progress
// get the same outcome. `polite`: the connection still works, so say QUIT
// before closing.
void ClientSession::Impl::fail(UpstreamOutcome o, bool polite) {
    if (failure) return;
    finish_message_with(o);
    expects.clear();
    out.clear();
    out_sensitive = false;
    if (polite) quit_out = "QUIT\r\n";
    failure = std::move(o);
}

// A reply that ends the session. A 2xx/3xx here is a reply out of sequence
// (250 to the greeting, 220 to AUTH): it must never read as "delivered", so
// it is reported as a protocol failure.
UpstreamOutcome ClientSession::Impl::session_outcome(Stage stage, const UpstreamReply& r) {
    UpstreamOutcome o = outcome_of(stage, r);
    if (r.code < 400) {
        o.local = LocalFailure::protocol;
        o.text = "unexpected reply " + std::to_string(r.code) + ": " + o.text;
    }
    return o;
}

void ClientSession::Impl::fail_reply(Stage stage, const UpstreamReply& r) {
    fail(session_outcome(stage, r), r.code != 421);
}

Stage ClientSession::Impl::current_stage() const {
    if (!expects.empty()) return expects.front().stage;
    if (step == Step::need_tls) return Stage::tls;
    if (step == Step::body) return Stage::body;
    if (step == Step::idle) return Stage::rset;
    return Stage::quit;
}

// ---- dispatch ----------------------------------------------------------------
void ClientSession::Impl::on_reply(const Expect& e, const UpstreamReply& r) {
    switch (e.kind) {
        case ExpectKind::greeting:
            return on_greeting(r);
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
            step = Step::done;
            return;
    }
}

ClientAction ClientSession::Impl::next() {
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
                    if (quitting()) {
                        expects.clear();
                        step = Step::done;
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
        switch (step) {
            case Step::need_tls:
                return client_action::StartTls{};
            case Step::body:
                return client_action::SendBody{cfg.timeouts.data_block};
            case Step::idle:
                return client_action::Idle{};
            case Step::done:
                return client_action::Done{};
            case Step::wait_replies:
                // Nothing to write, nothing expected: cannot happen; fail loudly but safely.
                fail(local_outcome(current_stage(), LocalFailure::protocol, "client session stalled"), false);
                continue;
        }
    }
}

void ClientSession::Impl::tls_established() {
    if (step != Step::need_tls || failure) return;
    secure = true;
    parser = UpstreamReplyParser{};
    caps = EhloCapabilities{};
    if (life == Life::implicit_tls) {
        life = Life::opening;
        step = Step::wait_replies;
        expect(ExpectKind::greeting, Stage::greeting, cfg.timeouts.greeting);
        return;
    }
    send_ehlo();
}

void ClientSession::Impl::on_failure(LocalFailure kind, std::string text) {
    if (failure) return;
    if (quitting()) {
        expects.clear();
        out.clear();
        step = Step::done;
        life = Life::closed;
        return;
    }
    Stage stage = current_stage();
    if (kind == LocalFailure::tls_handshake || kind == LocalFailure::tls_verify) stage = Stage::tls;
    const bool end_unanswered = in_message && end_sent;
    fail(local_outcome(stage, kind, std::move(text)), false);
    if (end_unanswered && result) result->end_unanswered = true;
}

void ClientSession::Impl::quit() {
    if (step != Step::idle || failure) return;
    life = Life::quitting;
    command("QUIT", ExpectKind::quit, Stage::quit, cfg.timeouts.quit);
}

// ---- ClientSession -----------------------------------------------------------------
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
    if (s.step != Step::idle || !s.usable() || s.in_message || message.recipients.empty()) return false;
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

bool ClientSession::message_concluded() const {
    return impl_->result.has_value() && !impl_->failure;
}

const EhloCapabilities& ClientSession::capabilities() const {
    return impl_->caps;
}
bool ClientSession::authenticated() const {
    return impl_->authenticated();
}
bool ClientSession::secure() const {
    return impl_->secure;
}
std::size_t ClientSession::messages_started() const {
    return impl_->messages_started;
}
bool ClientSession::reusable() const {
    return impl_->usable();
}

}  // namespace rp::protocol
