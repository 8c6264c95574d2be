// The driver's half of each ServerSession action (see server_session.hpp for
// the loop): I/O, TLS, password checks on the AUTH workers, the auth failure
// delay and the spool writer. Each handler returns false to end the
// connection.
#include <openssl/crypto.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <ctime>
#include <functional>
#include <memory>
#include <optional>

#include "common/await_callback.hpp"
#include "common/log.hpp"
#include "protocol/received_header.hpp"
#include "server/client_source.hpp"
#include "server/connection.hpp"
#include "server/username_tag.hpp"

namespace rp::server {
namespace {

namespace net = boost::asio;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kReadSize = 16 * 1024;

// One read buffer per event-loop thread, shared by its connections: a read
// fills it after its last suspension and the driver feeds the bytes to the
// session before it suspends again.
char* shared_read_buffer() {
    thread_local std::unique_ptr<char[]> buffer(new char[kReadSize]);
    return buffer.get();
}

spool::EnvelopeSpec to_spec(const protocol::Envelope& e) {
    spool::EnvelopeSpec spec;
    spec.mail_from = e.mail_from;
    for (const auto& r : e.recipients) spec.recipients.push_back({r.address, r.notify, r.orcpt});
    spec.ret = e.ret;
    spec.envid = e.envid;
    spec.smtputf8 = e.smtputf8;
    spec.body_8bitmime = e.body == protocol::BodyType::eight_bit_mime;
    spec.listener = e.listener;
    spec.client_addr = e.client_addr;
    spec.helo = e.helo;
    spec.auth_user = e.auth_user;
    return spec;
}

std::string rfc5322_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
}

}  // namespace

net::awaitable<bool> Connection::act(protocol::action::Write& a) {
    // Await into a local first: GCC 12 miscompiles `co_return co_await f(...)`.
    const bool sent = co_await send(a.bytes, idle_timeout());
    co_return sent;
}

net::awaitable<bool> Connection::act(protocol::action::NeedMore&) {
    const auto& host = settings_->config.hostname;
    if (stop_requested_ && !writer_) {
        co_await send_final(protocol::Reply::shutting_down(host));
        co_return false;
    }
    reading_idle_ = !writer_;
    // A command line gets idle_timeout from its first byte to its end:
    // bytes dripped one at a time (slowloris) do not extend it.
    if (!session_->mid_line()) {
        line_deadline_.reset();
        arm(idle_timeout());
    } else {
        if (!line_deadline_) line_deadline_ = Clock::now() + idle_timeout();
        arm_until(*line_deadline_);
    }
    char* buffer = shared_read_buffer();
    auto [ec, n] = co_await stream_.read_some(buffer, kReadSize);
    disarm();
    reading_idle_ = false;
    if (!ec) {
        session_->set_storage_low(core_->intake.storage_low());
        session_->feed(std::string_view(buffer, n));
        co_return true;
    }
    if (timed_out_) {
        log::info("smtpd", "idle timeout", {{"client", client_addr_}, {"helo", session_->helo()}});
        co_await send_final(protocol::Reply::timeout(host));
    } else if (stop_requested_ && ec == net::error::operation_aborted) {
        co_await send_final(protocol::Reply::shutting_down(host));
    } else if (ec != net::error::eof) {
        log::debug("smtpd", "read failed", {{"client", client_addr_}, {"error", ec.message()}});
    }
    co_return false;
}

net::awaitable<bool> Connection::act(protocol::action::StartTls&) {
    bool ok = co_await start_tls();
    if (!ok) co_return false;
    session_->tls_started();
    co_return true;
}

net::awaitable<Connection::PasswordCheck> Connection::verify_password(std::string password,
                                                                      std::string hash) {
    auto* workers = &core_->auth;
    return rp::await_callback<PasswordCheck>(
        [workers, password = std::move(password),
         hash = std::move(hash)](std::function<void(PasswordCheck)> done) mutable {
            bool queued = workers->submit(std::move(password), std::move(hash), [done](bool ok) {
                done(ok ? PasswordCheck::ok : PasswordCheck::failed);
            });
            if (!queued) done(PasswordCheck::busy);
        });
}

namespace {

// How a failed AUTH's username is logged: configured names as they are,
// anything else (possibly a password typed into the user field) as a tag.
struct UserField {
    std::string_view key;
    std::string value;
};

UserField failed_user(const Settings& settings, const std::string& username) {
    if (settings.password_hashes.count(username)) return {"user", username};
    return {"user_tag", username_tag(username)};
}

}  // namespace

// The limiter refused before hashing: 421 4.7.0 and close.
net::awaitable<bool> Connection::refuse_auth(const protocol::action::VerifyAuth& a) {
    core_->metrics.auth_failure(listener_.name);
    const UserField user = failed_user(*settings_, a.username);
    log::info("smtpd", "authentication refused, too many failures",
              {{"client", client_addr_},
               {"helo", session_->helo()},
               {user.key, user.value},
               {"mechanism", a.mechanism}});
    co_await send_final(protocol::Reply::too_many_auth_failures());
    co_return false;
}

net::awaitable<bool> Connection::act(protocol::action::VerifyAuth& a) {
    std::string password = a.password;
    OPENSSL_cleanse(a.password.data(), a.password.size());
    auto& limiter = core_->auth_limiter;
    const std::string source = client_source(client_addr_);
    const auto verdict = limiter.admit(source, a.username, Clock::now());
    if (verdict == AuthLimiter::Verdict::refuse) {
        OPENSSL_cleanse(password.data(), password.size());
        const bool go = co_await refuse_auth(a);
        co_return go;
    }
    PasswordCheck check = PasswordCheck::busy;
    if (verdict == AuthLimiter::Verdict::check) {
        auto it = settings_->password_hashes.find(a.username);
        const bool known = it != settings_->password_hashes.end();
        std::string hash = known ? it->second : settings_->decoy_hash;
        check = co_await verify_password(std::move(password), std::move(hash));
        if (!known && check == PasswordCheck::ok) check = PasswordCheck::failed;  // the decoy's own password
    } else {
        OPENSSL_cleanse(password.data(), password.size());
    }
    bool ok = check == PasswordCheck::ok;
    // PLAIN may name an authorization identity; we only let users act as themselves.
    if (!a.authzid.empty() && a.authzid != a.username) ok = false;
    if (verdict == AuthLimiter::Verdict::check)
        limiter.finished(source, a.username, ok, check != PasswordCheck::busy, Clock::now());
    if (ok) {
        log::info("smtpd", "authenticated",
                  {{"client", client_addr_}, {"helo", session_->helo()}, {"user", a.username}});
        session_->auth_result(true);
        co_return true;
    }
    core_->metrics.auth_failure(listener_.name);
    const bool busy = check == PasswordCheck::busy;
    const UserField user = failed_user(*settings_, a.username);
    log::info("smtpd", busy ? "authentication refused, password checks overloaded" : "authentication failed",
              {{"client", client_addr_},
               {"helo", session_->helo()},
               {user.key, user.value},
               {"mechanism", a.mechanism}});
    // The delay also paces a client that floods AUTH while the checks are
    // overloaded (454 comes without any hashing); it grows with the source's
    // recent failures (AuthLimiter::failure_delay).
    delay_.expires_after(
        limiter.failure_delay(source, settings_->config.limits.auth_failure_delay, Clock::now()));
    co_await delay_.async_wait(use_tuple);
    if (busy) {
        session_->auth_unavailable();
    } else {
        session_->auth_result(false);
    }
    co_return true;
}

std::string Connection::received_header(const protocol::Envelope& envelope) const {
    protocol::ReceivedInfo info;
    info.helo = envelope.helo;
    info.client_addr = client_addr_;
    info.hostname = settings_->config.hostname;
    info.protocol = envelope.protocol;
    info.tls_version = stream_.tls_version();
    info.tls_cipher = stream_.tls_cipher();
    info.date = rfc5322_now();
    return protocol::build_received_header(info);
}

net::awaitable<bool> Connection::act(protocol::action::BeginMessage& a) {
    writer_ = core_->intake.begin(to_spec(a.envelope));
    if (writer_ && !writer_->append(received_header(a.envelope))) {
        writer_->abort();
        writer_.reset();
    }
    if (!writer_) log::error("smtpd", "spool refused a message", {{"client", client_addr_}});
    mail_from_ = a.envelope.mail_from;
    recipients_ = a.envelope.recipients.size();
    session_->message_begun(writer_ != nullptr);
    co_return true;
}

net::awaitable<bool> Connection::act(protocol::action::MessageData& a) {
    if (writer_ && !writer_->append(a.bytes)) {
        log::error("smtpd", "spool write failed", {{"client", client_addr_}});
        session_->message_write_failed();
    }
    co_return true;
}

net::awaitable<std::pair<std::error_code, std::string>> Connection::commit() {
    using Result = std::pair<std::error_code, std::string>;
    auto* writer = writer_.get();
    return rp::await_callback<Result>([writer](std::function<void(Result)> done) {
        writer->commit([done = std::move(done)](std::error_code ec, std::string id) {
            done(Result{ec, std::move(id)});
        });
    });
}

net::awaitable<bool> Connection::act(protocol::action::CommitMessage&) {
    if (!writer_) {
        session_->message_failed();
        co_return true;
    }
    auto size = std::to_string(writer_->size());
    auto [ec, id] = co_await commit();
    writer_.reset();
    if (ec || id.empty()) {
        log::error("smtpd", "spool commit failed", {{"client", client_addr_}, {"error", ec.message()}});
        session_->message_failed();
        co_return true;
    }
    core_->metrics.message_accepted(listener_.name);
    auto rcpts = std::to_string(recipients_);
    log::info("smtpd", "accepted",
              {{"id", id},
               {"client", client_addr_},
               {"helo", session_->helo()},
               {"user", session_->auth_user()},
               {"from", mail_from_},
               {"recipients", rcpts},
               {"size", size},
               {"listener", listener_.name}});
    session_->message_committed(id);
    co_return true;
}

net::awaitable<bool> Connection::act(protocol::action::AbortMessage& a) {
    if (writer_) writer_->abort();
    writer_.reset();
    log::debug("smtpd", "message aborted",
               {{"client", client_addr_},
                {"reason", a.reason == protocol::action::AbortReason::too_big ? "too big" : "spool error"}});
    co_return true;
}

net::awaitable<bool> Connection::act(protocol::action::Close&) {
    co_return false;
}

}  // namespace rp::server
