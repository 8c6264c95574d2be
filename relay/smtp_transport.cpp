// SmtpTransport (see smtp_transport.hpp): which upstream session carries a
// message, and with which credentials. The connection itself (resolve,
// connect, TLS, the session's actions under one deadline) is
// relay/upstream_connection.*; the idle sessions per account are
// relay/session_pool.*; XOAUTH2 tokens come from relay/oauth_tokens.*.
#include "relay/smtp_transport.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <optional>

#include "common/log.hpp"
#include "relay/oauth_tokens.hpp"
#include "relay/session_pool.hpp"
#include "relay/tls_client.hpp"
#include "relay/upstream_connection.hpp"

namespace rp::relay {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using protocol::LocalFailure;
using protocol::Stage;
using protocol::UpstreamOutcome;

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
    Impl(asio::any_io_executor ex, SmtpTransportOptions o, std::shared_ptr<TokenSource> t)
        : executor(std::move(ex)),
          options(std::move(o)),
          tls(ssl::context::tls_client),
          tokens(std::move(t)),
          sessions(std::make_shared<SessionPool>(
              executor, SessionPoolLimits{options.connections_per_account, options.messages_per_connection,
                                          options.idle_keep})) {
        endpoint.host = options.host;
        endpoint.port = options.port;
        endpoint.connect_timeout = options.connect_timeout;
        endpoint.tls_timeout = options.timeouts.command;
        endpoint.tls_error = setup_client_tls(tls, options.ca_file);
        if (!endpoint.tls_error.empty())
            log::error("upstream", "cannot load upstream.ca_file", {{"error", endpoint.tls_error}});
    }

    asio::any_io_executor executor;
    SmtpTransportOptions options;
    ssl::context tls;
    UpstreamEndpoint endpoint;
    std::shared_ptr<TokenSource> tokens;
    std::shared_ptr<SessionPool> sessions;
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
        report.end_unanswered = result && result->end_unanswered;
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

    // One session slot of the pool for the length of one attempt: given back
    // (idle or closed) by release(), or closed when the attempt unwinds any
    // other way, so a slot is never lost.
    struct LeaseGuard {
        SessionPool& pool;
        const std::string& account;
        std::shared_ptr<UpstreamConnection> conn;  // null until opened
        bool held = true;
        void release(Halt halt) {
            if (!std::exchange(held, false)) return;
            pool.release(account, conn, halt);
        }
        ~LeaseGuard() { release(Halt::failed); }
    };

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
        bool stale_retried = false;
        for (;;) {
            SessionPool::Lease lease = co_await sessions->acquire(account.username);
            if (!lease.granted)
                co_return failed(protocol::local_outcome(Stage::connect, LocalFailure::protocol,
                                                         "transport is shutting down"));
            LeaseGuard slot{*sessions, account.username, std::move(lease.conn)};
            const bool reused = slot.conn != nullptr;
            if (!reused) {
                Secret secret = co_await secret_for(account);
                if (secret.failure) co_return failed(std::move(*secret.failure));
                ++stats.connections;
                slot.conn = std::make_shared<UpstreamConnection>(
                    executor, tls, endpoint, client_config(account, secret.value), account.username);
                std::optional<UpstreamOutcome> failure = co_await slot.conn->open();
                if (failure) {
                    slot.release(Halt::failed);
                    if (account.oauth2 && tokens && !token_retried && token_rejected(*failure)) {
                        token_retried = true;
                        ++stats.token_retries;
                        tokens->drop(account, secret.value);
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
            UpstreamConnection& c = *slot.conn;
            if (!c.session().begin_message(outgoing(req))) {
                slot.release(Halt::failed);
                co_return failed(protocol::local_outcome(Stage::mail, LocalFailure::protocol,
                                                         "session refused the message"));
            }
            if (reused) ++stats.reused;
            ++c.messages;
            body.rewind();
            DriveResult r = co_await c.drive(&body);
            auto result = c.session().take_message_result();
            if (r.halt == Halt::message_done) {
                // The upstream has answered for every recipient: the outcome
                // goes to the delivery now (to be written down) instead of
                // after the RSET round trip, which only a crash-free process
                // could wait for (a 250 held in memory meanwhile would be
                // sent again after a kill). The RSET finishes on its own.
                slot.held = false;
                sessions->finish_transaction(account.username, slot.conn);
                co_return report_of(req, r, std::move(result));
            }
            slot.release(r.halt);
            if (reused && !stale_retried && stale_session(r)) {
                stale_retried = true;
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
    impl_->sessions->shutdown();
}

boost::asio::awaitable<DeliveryReport> SmtpTransport::deliver(DeliveryRequest request) {
    return impl_->deliver(std::move(request));
}

void SmtpTransport::shutdown() {
    impl_->sessions->shutdown();
}

SmtpTransportStats SmtpTransport::stats() const {
    SmtpTransportStats s = impl_->stats;
    s.open = impl_->sessions->open_sessions();
    s.idle = impl_->sessions->idle_sessions();
    return s;
}

}  // namespace rp::relay
