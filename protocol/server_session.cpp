// ServerSession core: input framing, the action loop and the results of
// asynchronous actions (see server_session.hpp for the contract). The verbs
// live in server_verbs.cpp, message bodies in server_message.cpp.
#include <algorithm>
#include <stdexcept>

#include "protocol/server_session_impl.hpp"

namespace rp::protocol {
namespace {

bool starts_with_auth(std::string_view s) {
    if (s.size() < 5) return false;
    return (s[0] | 0x20) == 'a' && (s[1] | 0x20) == 'u' && (s[2] | 0x20) == 't' && (s[3] | 0x20) == 'h' &&
           s[4] == ' ';
}

Await await_for(const Action& a) {
    if (std::holds_alternative<action::StartTls>(a)) return Await::tls;
    if (std::holds_alternative<action::VerifyAuth>(a)) return Await::auth;
    if (std::holds_alternative<action::BeginMessage>(a)) return Await::begin;
    if (std::holds_alternative<action::CommitMessage>(a)) return Await::commit;
    return Await::none;
}

// Replies that mean "the client sent something wrong" and count toward
// max_bad_commands (not 502 for unimplemented verbs, not policy replies
// such as 552 or 452, not 535 which has its own limit).
bool counts_as_error(int code) {
    switch (code) {
        case 500:
        case 501:
        case 503:
        case 504:
        case 530:
        case 538:
        case 553:
        case 555:
            return true;
        default:
            return false;
    }
}

constexpr std::size_t kReplyFlushBytes = 16 * 1024;

}  // namespace

ServerSession::Impl::Impl(SessionOptions o) : opt(std::move(o)) {
    tls_active = opt.tls == TlsMode::implicit;
}

void ServerSession::Impl::reply(const Reply& r) {
    out += r.format();
    if (counts_as_error(r.code)) count_bad_command();
}

void ServerSession::Impl::count_bad_command() {
    if (++errors >= opt.max_bad_commands && !closing) close_with(Reply::too_many_errors());
}

void ServerSession::Impl::close_with(const Reply& r) {
    out += r.format();
    closing = true;
    abort_if_begun(action::AbortReason::cancelled);
}

void ServerSession::Impl::set_pending(Action a) {
    if (pending) throw std::logic_error("ServerSession: two pending actions");
    pending = std::move(a);
}

void ServerSession::Impl::reset_transaction() {
    txn = Transaction{};
    dropping = false;
    drop_reply.reset();
    reader.reset();
    chunk_left = 0;
    chunk_last = false;
    bdat_lines.reset();
}

void ServerSession::Impl::abort_if_begun(action::AbortReason reason) {
    if (!txn.begun) return;
    txn.begun = false;
    set_pending(action::AbortMessage{reason});
}

void ServerSession::Impl::reset_session_for_tls() {
    in.clear();  // anything sent before the handshake is discarded
    in_pos = 0;
    tls_active = true;
    esmtp = false;
    helo.clear();
    authenticated = false;
    auth_user.clear();
    sasl.reset();
    reset_transaction();
    mode = Mode::command;
}

// Between commands nothing refers to `in` (once consumed) or `data_out`
// (the last MessageData is no longer valid after this next()). After a large
// message both keep the capacity of its biggest read and slice; an idle
// session should not, so beyond kIdleBufferKeep they are released.
void ServerSession::Impl::release_idle_buffers() {
    if (mode != Mode::command) return;  // mid-message: they are reused at once
    if (in_pos == in.size() && in.capacity() > kIdleBufferKeep) {
        std::string().swap(in);
        in_pos = 0;
    }
    if (data_out.capacity() > kIdleBufferKeep) std::string().swap(data_out);
}

bool ServerSession::Impl::step() {
    if (closing) return false;
    switch (mode) {
        case Mode::command:
        case Mode::sasl:
            return step_command();
        case Mode::skip_line:
            return step_skip();
        case Mode::data:
            return step_data();
        case Mode::bdat:
            return step_bdat();
    }
    return false;
}

// Frames one line (CRLF or bare LF) and handles it. Over-long lines are
// answered at once and skipped without being buffered.
bool ServerSession::Impl::step_command() {
    const std::string_view avail = std::string_view(in).substr(in_pos);
    if (avail.empty()) return false;
    const std::size_t limit =
        (mode == Mode::sasl || starts_with_auth(avail)) ? kMaxAuthLine : kMaxCommandLine;
    const std::size_t lf = avail.find('\n');
    // A TLS ClientHello or NUL bytes in this line: not an SMTP client, do not
    // wait for a line end that may never come. (Only this line is looked at:
    // the outcome must not depend on how much of the next one is buffered.)
    const std::string_view head = avail.substr(0, std::min(lf, limit));
    if ((mode == Mode::command && avail[0] == '\x16') || head.find('\0') != std::string_view::npos) {
        in_pos = in.size();
        close_with(Reply::not_smtp());
        return true;
    }
    if (lf == std::string_view::npos) {
        if (avail.size() < limit) return false;
        in_pos = in.size();
        skip_return = Mode::command;
        mode = Mode::skip_line;
        sasl.reset();
        reply(Reply::line_too_long());
        return true;
    }
    std::string line(avail.substr(0, lf));
    in_pos += lf + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > limit - 2) {
        mode = Mode::command;
        sasl.reset();
        reply(Reply::line_too_long());
        return true;
    }
    handle_line(line);
    return true;
}

bool ServerSession::Impl::step_skip() {
    const std::string_view avail = std::string_view(in).substr(in_pos);
    const std::size_t lf = avail.find('\n');
    if (lf == std::string_view::npos) {
        in_pos = in.size();
        return false;
    }
    in_pos += lf + 1;
    mode = skip_return;
    return true;
}

void ServerSession::Impl::handle_line(std::string_view line) {
    if (mode == Mode::sasl) {
        sasl_line(line);
        return;
    }
    ParseResult parsed = parse_command(line);
    if (!parsed.ok()) {
        reply(parsed.error);
        return;
    }
    dispatch(*parsed.command);
}

// --- public API ---

ServerSession::ServerSession(SessionOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
ServerSession::~ServerSession() = default;
ServerSession::ServerSession(ServerSession&&) noexcept = default;
ServerSession& ServerSession::operator=(ServerSession&&) noexcept = default;

Reply ServerSession::greeting() const {
    return Reply::greeting(impl_->opt.hostname);
}

void ServerSession::feed(std::string_view bytes) {
    Impl& s = *impl_;
    if (s.closing || s.closed) return;
    if (s.in_pos == s.in.size()) {
        s.in.clear();
        s.in_pos = 0;
    } else if (s.in_pos > 4096 && s.in_pos * 2 > s.in.size()) {
        s.in.erase(0, s.in_pos);
        s.in_pos = 0;
    }
    s.in.append(bytes);
}

Action ServerSession::next() {
    Impl& s = *impl_;
    if (s.awaiting != Await::none) throw std::logic_error("ServerSession::next() while a result is awaited");
    auto take_write = [&s] {
        action::Write w{std::move(s.out)};
        s.out.clear();
        return w;
    };
    for (;;) {
        if (s.closed) return action::Close{};
        if (s.pending) {
            if (!s.out.empty()) return take_write();
            Action a = std::move(*s.pending);
            s.pending.reset();
            s.awaiting = await_for(a);
            return a;
        }
        if (s.closing) {
            if (!s.out.empty()) return take_write();
            s.closed = true;
            return action::Close{};
        }
        // Replies are flushed once this much is pending, so a client that
        // pipelines thousands of cheap commands and never reads cannot make
        // the session hold their replies (HELP, EHLO: ~100x the command).
        if (s.out.size() >= kReplyFlushBytes) return take_write();
        if (!s.step()) {
            if (!s.out.empty()) return take_write();
            s.release_idle_buffers();
            return action::NeedMore{};
        }
    }
}

namespace {
void expect(Await actual, Await wanted, const char* what) {
    if (actual != wanted) throw std::logic_error(std::string("ServerSession: unexpected ") + what);
}
}  // namespace

void ServerSession::tls_started() {
    expect(impl_->awaiting, Await::tls, "tls_started()");
    impl_->awaiting = Await::none;
    impl_->reset_session_for_tls();
}

void ServerSession::auth_result(bool ok) {
    Impl& s = *impl_;
    expect(s.awaiting, Await::auth, "auth_result()");
    s.awaiting = Await::none;
    if (ok) {
        s.authenticated = true;
        s.auth_user = std::move(s.auth_pending_user);
        s.reply(Reply::auth_ok());
    } else {
        s.reply(Reply::auth_invalid());
        if (++s.auth_failures >= s.opt.max_auth_failures)
            s.close_with(Reply::make(421, esc::security_temp, "Too many authentication failures"));
    }
    s.auth_pending_user.clear();
}

void ServerSession::auth_unavailable() {
    Impl& s = *impl_;
    expect(s.awaiting, Await::auth, "auth_unavailable()");
    s.awaiting = Await::none;
    s.reply(Reply::make(454, esc::security_temp, "Temporary authentication failure"));
    s.auth_pending_user.clear();
}

void ServerSession::message_begun(bool ok) {
    Impl& s = *impl_;
    expect(s.awaiting, Await::begin, "message_begun()");
    s.awaiting = Await::none;
    if (ok) {
        s.txn.begun = true;
        if (!s.begin_for_bdat) {
            s.reader.reset();
            s.mode = Mode::data;
            s.reply(Reply::start_mail_input());
        }
        return;
    }
    if (s.begin_for_bdat) {
        s.dropping = true;  // read the chunk, then answer 451
        s.drop_reply = Reply::local_error();
    } else {
        s.reset_transaction();
        s.mode = Mode::command;
        s.reply(Reply::local_error());
    }
}

void ServerSession::message_write_failed() {
    Impl& s = *impl_;
    if (!s.txn.begun || s.dropping) return;
    s.drop_message(action::AbortReason::write_failed, Reply::storage_failed());
}

void ServerSession::message_committed(std::string_view id) {
    Impl& s = *impl_;
    expect(s.awaiting, Await::commit, "message_committed()");
    s.awaiting = Await::none;
    s.reset_transaction();
    s.mode = Mode::command;
    s.junk_commands = 0;
    s.reply(Reply::queued(id));
}

void ServerSession::message_failed() {
    Impl& s = *impl_;
    expect(s.awaiting, Await::commit, "message_failed()");
    s.awaiting = Await::none;
    s.reset_transaction();
    s.mode = Mode::command;
    s.reply(Reply::local_error());
}

void ServerSession::set_storage_low(bool low) {
    impl_->storage_low = low;
}

bool ServerSession::tls_active() const {
    return impl_->tls_active;
}
bool ServerSession::authenticated() const {
    return impl_->authenticated;
}
const std::string& ServerSession::auth_user() const {
    return impl_->auth_user;
}
const std::string& ServerSession::helo() const {
    return impl_->helo;
}
bool ServerSession::closed() const {
    return impl_->closed;
}
std::size_t ServerSession::buffered() const {
    return impl_->in.size() - impl_->in_pos;
}
bool ServerSession::mid_line() const {
    const Mode m = impl_->mode;
    return m == Mode::skip_line || ((m == Mode::command || m == Mode::sasl) && buffered() > 0);
}
std::size_t ServerSession::buffer_capacity() const {
    return impl_->in.capacity() + impl_->data_out.capacity() + impl_->out.capacity();
}

}  // namespace rp::protocol
