// SmtpTransport (see smtp_transport.hpp): the Asio side of the upstream client.
//
// Shape: Conn is one TCP(+TLS) connection with its protocol::ClientSession;
// drive() carries out the session's actions (write, read, TLS, body) until it
// is idle, done or failed; Impl keeps the per-account pool of idle sessions
// and the connection slots. Every socket operation runs under a Watchdog that
// cancels the socket when its deadline passes, so every wait is bounded by the
// session's RFC 5321 timeouts.
#include "relay/smtp_transport.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>

#include "common/log.hpp"
#include "relay/oauth_tokens.hpp"
#include "relay/tls_client.hpp"

namespace rp::relay {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace act = protocol::client_action;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using protocol::LocalFailure;
using protocol::Stage;
using protocol::UpstreamOutcome;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A deadline for one socket operation at a time: when it passes, the socket
// is cancelled, the operation completes with operation_aborted and
// disarm() reports that the deadline was the cause. A generation number
// keeps a late timer handler from cancelling the next operation.
class Watchdog {
  public:
    explicit Watchdog(const asio::any_io_executor& ex) : timer_(ex), state_(std::make_shared<State>()) {}

    void arm(std::chrono::milliseconds timeout, tcp::socket& socket) {
        std::uint64_t gen = ++state_->generation;
        state_->fired = false;
        timer_.expires_after(timeout);
        timer_.async_wait([state = state_, gen, &socket](error_code ec) {
            if (ec || state->generation != gen) return;
            state->fired = true;
            error_code ignored;
            socket.cancel(ignored);
        });
    }
    // Stops the deadline; true when it had already fired.
    bool disarm() {
        ++state_->generation;
        timer_.cancel();
        return state_->fired;
    }

  private:
    struct State {
        std::uint64_t generation = 0;
        bool fired = false;
    };
    asio::steady_timer timer_;
    std::shared_ptr<State> state_;
};

// The stored message, read piecewise with pread() from body_offset.
class BodyReader {
  public:
    explicit BodyReader(std::size_t chunk) : buffer_(chunk, '\0') {}
    ~BodyReader() {
        if (fd_ >= 0) ::close(fd_);
    }
    BodyReader(const BodyReader&) = delete;
    BodyReader& operator=(const BodyReader&) = delete;

    // "" on success, else the reason.
    std::string open(const std::string& path, std::uint64_t offset, std::uint64_t size) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) return "cannot open spool file: " + std::string(std::strerror(errno));
        offset_ = offset;
        size_ = size;
        return "";
    }
    void rewind() { position_ = 0; }
    bool at_end() const { return position_ == size_; }

    // The next piece; an empty view with error() set on failure.
    std::string_view next() {
        std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer_.size(), size_ - position_));
        ssize_t n;
        do {
            n = ::pread(fd_, buffer_.data(), want, static_cast<off_t>(offset_ + position_));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            error_ = "spool read failed: " + std::string(std::strerror(errno));
            return {};
        }
        if (n == 0 && want > 0) {
            error_ = "spool file is shorter than its recorded size";
            return {};
        }
        position_ += static_cast<std::uint64_t>(n);
        return {buffer_.data(), static_cast<std::size_t>(n)};
    }
    const std::string& error() const { return error_; }

  private:
    int fd_ = -1;
    std::uint64_t offset_ = 0;
    std::uint64_t size_ = 0;
    std::uint64_t position_ = 0;
    std::string buffer_;
    std::string error_;
};

// One upstream connection and its session state machine.
struct Conn {
    Conn(const asio::any_io_executor& ex, ssl::context& ctx, protocol::ClientConfig config,
         std::string account_name)
        : stream(ex, ctx),
          watchdog(ex),
          idle_timer(ex),
          session(std::move(config)),
          account(std::move(account_name)) {}

    tcp::socket& socket() { return stream.next_layer(); }
    void close() {
        error_code ignored;
        socket().shutdown(tcp::socket::shutdown_both, ignored);
        socket().close(ignored);
    }
    // An idle session the upstream closed (EOF) or wrote to (a timeout
    // notice) while we were not looking must not carry the next message.
    bool looks_alive() {
        if (!socket().is_open()) return false;
        char byte;
        ssize_t n = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    ssl::stream<tcp::socket> stream;
    Watchdog watchdog;
    asio::steady_timer idle_timer;
    protocol::ClientSession session;
    std::string account;
    bool tls = false;
    std::size_t messages = 0;
    std::uint64_t idle_generation = 0;
    std::string read_buffer = std::string(16 * 1024, '\0');
};

enum class Halt { idle, done, failed };
struct DriveResult {
    Halt halt = Halt::failed;
    UpstreamOutcome failure;
};

LocalFailure io_failure(const error_code& ec, bool timed_out) {
    if (timed_out || ec == asio::error::timed_out) return LocalFailure::timeout;
    return LocalFailure::reset;
}

std::string io_text(const error_code& ec, bool timed_out, std::chrono::milliseconds timeout) {
    if (timed_out) return "timed out after " + std::to_string(timeout.count()) + " ms";
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return "connection closed by upstream";
    return ec.message();
}

LocalFailure connect_failure(const error_code& ec, bool timed_out) {
    if (timed_out || ec == asio::error::timed_out) return LocalFailure::timeout;
    if (ec == asio::error::connection_reset) return LocalFailure::reset;
    return LocalFailure::refused;  // refused, unreachable: the upstream is not there
}

// After a failed handshake: verification (our checks said no) or the rest.
std::pair<LocalFailure, std::string> tls_failure(ssl::stream<tcp::socket>& stream, const error_code& ec) {
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long result = SSL_get_verify_result(stream.native_handle());
        return {LocalFailure::tls_verify,
                std::string("certificate verification failed: ") + X509_verify_cert_error_string(result)};
    }
    return {LocalFailure::tls_handshake, "TLS handshake failed: " + ec.message()};
}

}  // namespace

SmtpTransportOptions SmtpTransportOptions::from_config(const config::Config& config) {
    SmtpTransportOptions o;
    o.host = config.upstream.host;
    o.port = config.upstream.port;
    o.tls = config.upstream.tls;
    o.ca_file = config.upstream.ca_file;
    o.connections_per_account = std::max<std::uint32_t>(1, config.upstream.connections_per_account);
    o.messages_per_connection = std::max<std::uint32_t>(1, config.upstream.messages_per_connection);
    o.ehlo_hostname = config.hostname.empty() ? "localhost" : config.hostname;
    o.strip_headers = config.upstream.strip_headers;
    o.rewrite_from_header = config.upstream.sender_rewrite == config::SenderRewrite::envelope_header;
    // QUIT is a courtesy (RFC 5321 names no timeout for it); a silent
    // upstream must not hold a shutdown for the default 30 s.
    o.timeouts.quit = std::chrono::seconds(5);
    return o;
}

struct SmtpTransport::Impl : std::enable_shared_from_this<Impl> {
    struct Slots {
        std::deque<std::shared_ptr<Conn>> idle;
        std::uint32_t open = 0;                   // idle + busy + connecting
        std::deque<asio::steady_timer*> waiters;  // deliveries waiting for a slot
    };
    // A session for one message: an idle one, or a slot to open a new one.
    struct Lease {
        std::shared_ptr<Conn> conn;  // null: open a new session in the slot
        bool granted = false;        // false: shutting down
    };

    Impl(asio::any_io_executor ex, SmtpTransportOptions o, std::shared_ptr<TokenSource> t)
        : executor(std::move(ex)),
          options(std::move(o)),
          tls(ssl::context::tls_client),
          tokens(std::move(t)) {
        tls_error = setup_client_tls(tls, options.ca_file);
        if (!tls_error.empty())
            log::error("upstream", "cannot load upstream.ca_file", {{"error", tls_error}});
    }

    asio::any_io_executor executor;
    SmtpTransportOptions options;
    ssl::context tls;
    std::shared_ptr<TokenSource> tokens;
    std::string tls_error;  // a broken ca_file: every handshake fails with it
    std::map<std::string, Slots> accounts;
    bool stopping = false;
    SmtpTransportStats stats;

    // `secret`: the password, or the XOAUTH2 access token for an oauth2 account.
    protocol::ClientConfig client_config(const config::Account& account, const std::string& secret) const {
        protocol::ClientConfig c;
        c.ehlo_hostname = options.ehlo_hostname;
        c.tls = options.tls == config::UpstreamTls::implicit   ? protocol::ClientTls::implicit
                : options.tls == config::UpstreamTls::starttls ? protocol::ClientTls::starttls
                                                               : protocol::ClientTls::none;
        const auto mechanism =
            account.oauth2 ? protocol::AuthMechanism::xoauth2 : protocol::AuthMechanism::automatic;
        c.credentials = protocol::ClientCredentials{mechanism, account.username, secret};
        c.timeouts = options.timeouts;
        c.use_chunking = options.use_chunking;
        c.use_pipelining = options.use_pipelining;
        return c;
    }

    // ---- one connection: actions ------------------------------------------
    asio::awaitable<void> do_write(Conn& c, const act::Write& w) {
        c.watchdog.arm(w.timeout, c.socket());
        auto buffer = asio::buffer(w.bytes.data(), w.bytes.size());
        error_code ec;
        if (c.tls)
            std::tie(ec, std::ignore) = co_await asio::async_write(c.stream, buffer, use_tuple);
        else
            std::tie(ec, std::ignore) = co_await asio::async_write(c.socket(), buffer, use_tuple);
        bool fired = c.watchdog.disarm();
        if (ec) c.session.on_failure(io_failure(ec, fired), "write: " + io_text(ec, fired, w.timeout));
    }

    asio::awaitable<void> do_read(Conn& c, const act::ReadReply& r) {
        c.watchdog.arm(r.timeout, c.socket());
        auto buffer = asio::buffer(c.read_buffer);
        error_code ec;
        std::size_t n = 0;
        if (c.tls)
            std::tie(ec, n) = co_await c.stream.async_read_some(buffer, use_tuple);
        else
            std::tie(ec, n) = co_await c.socket().async_read_some(buffer, use_tuple);
        bool fired = c.watchdog.disarm();
        if (n > 0) c.session.on_bytes(std::string_view(c.read_buffer.data(), n));
        if (ec && n == 0) {
            c.session.on_failure(io_failure(ec, fired), std::string("waiting for the ") +
                                                            std::string(protocol::to_string(r.stage)) +
                                                            " reply: " + io_text(ec, fired, r.timeout));
        }
    }

    asio::awaitable<void> do_tls(Conn& c) {
        if (!tls_error.empty()) {
            c.session.on_failure(LocalFailure::tls_verify, tls_error);
            co_return;
        }
        verify_server_name(c.stream, options.host);
        c.watchdog.arm(options.timeouts.command, c.socket());
        auto [ec] = co_await c.stream.async_handshake(ssl::stream_base::client, use_tuple);
        bool fired = c.watchdog.disarm();
        if (!ec) {
            c.tls = true;
            c.session.tls_established();
        } else if (fired) {
            c.session.on_failure(LocalFailure::timeout, "TLS handshake timed out");
        } else {
            auto [kind, text] = tls_failure(c.stream, ec);
            c.session.on_failure(kind, std::move(text));
        }
    }

    static void do_body(Conn& c, BodyReader* body) {
        if (body == nullptr) return c.session.on_failure(LocalFailure::protocol, "no message body to send");
        if (body->at_end()) return c.session.body_end();
        std::string_view piece = body->next();
        if (piece.empty()) return c.session.on_failure(LocalFailure::protocol, body->error());
        c.session.body_data(piece);
    }

    // Carries out the session's actions until it is idle, done or failed.
    asio::awaitable<DriveResult> drive(Conn& c, BodyReader* body) {
        for (;;) {
            protocol::ClientAction action = c.session.next();
            if (auto* w = std::get_if<act::Write>(&action)) {
                co_await do_write(c, *w);
            } else if (auto* r = std::get_if<act::ReadReply>(&action)) {
                co_await do_read(c, *r);
            } else if (std::holds_alternative<act::StartTls>(action)) {
                co_await do_tls(c);
            } else if (std::holds_alternative<act::SendBody>(action)) {
                do_body(c, body);
            } else if (std::holds_alternative<act::Idle>(action)) {
                co_return DriveResult{Halt::idle, {}};
            } else if (std::holds_alternative<act::Done>(action)) {
                co_return DriveResult{Halt::done, {}};
            } else {
                co_return DriveResult{Halt::failed, std::get<act::Failed>(action).outcome};
            }
        }
    }

    // ---- one connection: open, use, close ---------------------------------
    asio::awaitable<std::optional<UpstreamOutcome>> connect(Conn& c) {
        tcp::resolver resolver(executor);
        auto [rec, endpoints] =
            co_await resolver.async_resolve(options.host, std::to_string(options.port), use_tuple);
        if (rec)
            co_return protocol::local_outcome(Stage::connect, LocalFailure::dns,
                                              "cannot resolve " + options.host + ": " + rec.message());
        c.watchdog.arm(options.connect_timeout, c.socket());
        auto [ec, endpoint] = co_await asio::async_connect(c.socket(), endpoints, use_tuple);
        bool fired = c.watchdog.disarm();
        if (ec) {
            co_return protocol::local_outcome(Stage::connect, connect_failure(ec, fired),
                                              "connect to " + options.host + ":" +
                                                  std::to_string(options.port) + ": " +
                                                  io_text(ec, fired, options.connect_timeout));
        }
        error_code ignored;
        c.socket().set_option(tcp::no_delay(true), ignored);
        co_return std::nullopt;
    }

    // Connect and run the session up to an authenticated Idle.
    asio::awaitable<std::optional<UpstreamOutcome>> open_session(Conn& c) {
        ++stats.connections;
        if (auto failure = co_await connect(c)) co_return failure;
        DriveResult r = co_await drive(c, nullptr);
        if (r.halt == Halt::idle) co_return std::nullopt;
        if (r.halt == Halt::failed) co_return r.failure;
        co_return protocol::local_outcome(Stage::ehlo, LocalFailure::protocol,
                                          "session ended before it was ready");
    }

    static asio::awaitable<void> quit_and_close(std::shared_ptr<Impl> self, std::shared_ptr<Conn> c) {
        c->session.quit();
        co_await self->drive(*c, nullptr);
        c->close();
        log::debug("upstream", "session closed", {{"account", c->account}});
    }

    void close_later(const std::shared_ptr<Conn>& c, bool polite) {
        if (!polite) {
            c->close();
            return;
        }
        asio::co_spawn(executor, quit_and_close(shared_from_this(), c), asio::detached);
    }

    // ---- the pool --------------------------------------------------------------
    static void notify_one(Slots& slots) {
        if (slots.waiters.empty()) return;
        asio::steady_timer* t = slots.waiters.front();
        slots.waiters.pop_front();
        t->cancel();
    }

    asio::awaitable<Lease> acquire(const std::string& account) {
        Slots& slots = accounts[account];
        for (;;) {
            if (stopping) co_return Lease{};
            while (!slots.idle.empty()) {
                std::shared_ptr<Conn> c = std::move(slots.idle.front());
                slots.idle.pop_front();
                ++c->idle_generation;
                c->idle_timer.cancel();
                if (c->looks_alive()) co_return Lease{std::move(c), true};
                c->close();
                --slots.open;
            }
            if (slots.open < options.connections_per_account) {
                ++slots.open;
                co_return Lease{nullptr, true};
            }
            asio::steady_timer wake(executor, asio::steady_timer::time_point::max());
            slots.waiters.push_back(&wake);
            co_await wake.async_wait(use_tuple);
            auto it = std::find(slots.waiters.begin(), slots.waiters.end(), &wake);
            if (it != slots.waiters.end()) slots.waiters.erase(it);
        }
    }

    // The slot's session after a message: back to idle, or closed.
    void release(const std::string& account, const std::shared_ptr<Conn>& c, Halt halt) {
        Slots& slots = accounts[account];
        bool keep = c && halt == Halt::idle && c->session.reusable() && !stopping &&
                    c->messages < options.messages_per_connection;
        if (keep) {
            slots.idle.push_back(c);
            watch_idle(c);
        } else {
            --slots.open;
            if (c) close_later(c, halt == Halt::idle);
        }
        notify_one(slots);
    }

    void watch_idle(const std::shared_ptr<Conn>& c) {
        std::uint64_t generation = ++c->idle_generation;
        c->idle_timer.expires_after(options.idle_keep);
        c->idle_timer.async_wait([self = shared_from_this(), c, generation](error_code ec) {
            if (ec || c->idle_generation != generation) return;
            self->expire_idle(c);
        });
    }

    void expire_idle(const std::shared_ptr<Conn>& c) {
        Slots& slots = accounts[c->account];
        auto it = std::find(slots.idle.begin(), slots.idle.end(), c);
        if (it == slots.idle.end()) return;
        slots.idle.erase(it);
        --slots.open;
        close_later(c, true);
        notify_one(slots);
    }

    void shutdown() {
        stopping = true;
        for (auto& [name, slots] : accounts) {
            for (auto& c : slots.idle) {
                ++c->idle_generation;
                c->idle_timer.cancel();
                --slots.open;
                close_later(c, true);
            }
            slots.idle.clear();
            while (!slots.waiters.empty()) notify_one(slots);
        }
    }

    // ---- one message -------------------------------------------------------------
    protocol::OutgoingMessage outgoing(const DeliveryRequest& req) const {
        protocol::OutgoingMessage m;
        m.mail_from = req.mail_from;
        m.recipients = req.recipients;
        m.size = req.body_size;
        m.body_8bitmime = req.body_8bitmime;
        m.smtputf8 = req.smtputf8;
        m.filter.strip_headers = options.strip_headers;
        if (options.rewrite_from_header) m.filter.rewrite_from_to = req.account.username;
        return m;
    }

    static DeliveryReport failed(UpstreamOutcome outcome) {
        DeliveryReport report;
        report.session_failure = std::move(outcome);
        return report;
    }

    static DeliveryReport report_of(const DeliveryRequest& req, const DriveResult& r,
                                    std::optional<protocol::MessageResult> result) {
        DeliveryReport report;
        if (result && result->recipients.size() == req.recipients.size()) {
            for (std::size_t i = 0; i < req.recipients.size(); ++i)
                report.recipients.push_back(
                    RecipientResult{req.recipients[i], std::move(result->recipients[i])});
        } else if (r.halt == Halt::failed) {
            report.session_failure = r.failure;
        } else {
            report.session_failure = protocol::local_outcome(Stage::body, LocalFailure::protocol,
                                                             "the session reported no result");
        }
        return report;
    }

    // A reused session that turns out dead before its first reply (the
    // upstream closed it while idle) did not attempt the message.
    static bool stale_session(const DriveResult& r) {
        return r.halt == Halt::failed && r.failure.stage == Stage::mail &&
               r.failure.local == LocalFailure::reset;
    }

    void log_failure(const std::string& account, const UpstreamOutcome& o) {
        log::warn("upstream", "session failed",
                  {{"account", account},
                   {"stage", protocol::to_string(o.stage)},
                   {"code", std::to_string(o.code)},
                   {"text", o.text}});
    }

    // The secret the session authenticates with: the password, or an
    // XOAUTH2 access token (the failure outcome when there is none).
    struct Secret {
        std::string value;
        std::optional<UpstreamOutcome> failure;
    };

    asio::awaitable<Secret> secret_for(const config::Account& account) {
        if (!account.oauth2) co_return Secret{account.password, std::nullopt};
        if (!tokens)
            co_return Secret{"", protocol::local_outcome(Stage::auth, LocalFailure::credentials_refused,
                                                         "no XOAUTH2 token source in this transport")};
        oauth::TokenReply reply = co_await tokens->token(account);
        if (reply.failure == oauth::TokenFailure::none)
            co_return Secret{std::move(reply.access_token), std::nullopt};
        if (reply.failure == oauth::TokenFailure::denied)
            co_return Secret{"", protocol::local_outcome(Stage::auth, LocalFailure::credentials_refused,
                                                         oauth::explain(reply))};
        std::string why = "XOAUTH2 token unavailable: " + reply.error;
        if (!reply.description.empty()) why += ": " + reply.description;
        co_return Secret{"",
                         protocol::local_outcome(Stage::auth, LocalFailure::credentials_unavailable, why)};
    }

    // Gmail answers a stale or revoked access token with 535 5.7.8 (after a
    // 334 carrying the JSON error): worth one more try with a fresh token.
    static bool token_rejected(const UpstreamOutcome& o) { return o.stage == Stage::auth && o.code == 535; }

    asio::awaitable<DeliveryReport> deliver(DeliveryRequest req) {
        auto self = shared_from_this();  // pool state outlives a transport destroyed mid-delivery
        if (req.account.username.empty())
            co_return failed(protocol::local_outcome(Stage::connect, LocalFailure::protocol, "no account"));
        const config::Account& account = req.account;
        BodyReader body(options.body_chunk);
        if (std::string err = body.open(req.message_path, req.body_offset, req.body_size); !err.empty())
            co_return failed(protocol::local_outcome(Stage::connect, LocalFailure::protocol, err));

        bool token_retried = false;
        for (int attempt = 0;; ++attempt) {
            Lease lease = co_await acquire(account.username);
            if (!lease.granted)
                co_return failed(protocol::local_outcome(Stage::connect, LocalFailure::protocol,
                                                         "transport is shutting down"));
            std::shared_ptr<Conn> c = std::move(lease.conn);
            const bool reused = c != nullptr;
            if (!c) {
                Secret secret = co_await secret_for(account);
                if (secret.failure) {
                    release(account.username, nullptr, Halt::failed);
                    co_return failed(std::move(*secret.failure));
                }
                c = std::make_shared<Conn>(executor, tls, client_config(account, secret.value),
                                           account.username);
                std::optional<UpstreamOutcome> failure = co_await open_session(*c);
                if (failure) {
                    release(account.username, nullptr, Halt::failed);
                    c->close();
                    if (account.oauth2 && tokens && !token_retried && token_rejected(*failure)) {
                        token_retried = true;
                        ++stats.token_retries;
                        tokens->drop(account.username, secret.value);
                        log::info("upstream",
                                  "XOAUTH2 token refused by the upstream; retrying with a fresh one",
                                  {{"account", account.username}});
                        continue;
                    }
                    log_failure(account.username, *failure);
                    co_return failed(std::move(*failure));
                }
                log::info("upstream", "session ready",
                          {{"account", account.username}, {"host", options.host}});
            }
            if (!c->session.begin_message(outgoing(req))) {
                release(account.username, c, Halt::failed);
                co_return failed(protocol::local_outcome(Stage::mail, LocalFailure::protocol,
                                                         "session refused the message"));
            }
            if (reused) ++stats.reused;
            ++c->messages;
            body.rewind();
            DriveResult r = co_await drive(*c, &body);
            auto result = c->session.take_message_result();
            release(account.username, c, r.halt);
            if (reused && attempt == 0 && stale_session(r)) {
                ++stats.retried_stale;
                log::debug("upstream", "idle session was closed by the upstream; reconnecting",
                           {{"account", account.username}});
                continue;
            }
            if (r.halt == Halt::failed) log_failure(account.username, r.failure);
            co_return report_of(req, r, std::move(result));
        }
    }
};

SmtpTransport::SmtpTransport(boost::asio::any_io_executor executor, SmtpTransportOptions options,
                             std::shared_ptr<TokenSource> tokens)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(tokens))) {}

SmtpTransport::~SmtpTransport() {
    impl_->shutdown();
}

boost::asio::awaitable<DeliveryReport> SmtpTransport::deliver(DeliveryRequest request) {
    return impl_->deliver(std::move(request));
}

void SmtpTransport::shutdown() {
    impl_->shutdown();
}

SmtpTransportStats SmtpTransport::stats() const {
    SmtpTransportStats s = impl_->stats;
    for (const auto& [name, slots] : impl_->accounts) {
        s.open += slots.open;
        s.idle += slots.idle.size();
    }
    return s;
}

}  // namespace rp::relay
