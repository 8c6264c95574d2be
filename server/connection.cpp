// Connection lifecycle: admission (PROXY header, per-address limit), implicit
// TLS, the read -> feed -> act loop, deadlines and shutdown. The per-action
// handlers live in connection_actions.cpp.
#include "server/connection.hpp"

#include <algorithm>
#include <vector>

#include "common/log.hpp"
#include "protocol/proxy_protocol.hpp"

namespace rp::server {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

constexpr auto kProxyTimeout = 5s;
constexpr auto kHandshakeTimeout = 30s;
constexpr auto kFinalReplyTimeout = 5s;

std::string address_text(const net::ip::tcp::socket& socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    auto address = ep.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
    return address.to_string();
}

protocol::TlsMode tls_mode(config::ListenerTls tls) {
    switch (tls) {
        case config::ListenerTls::starttls:
            return protocol::TlsMode::starttls;
        case config::ListenerTls::implicit:
            return protocol::TlsMode::implicit;
        case config::ListenerTls::none:
            return protocol::TlsMode::none;
    }
    return protocol::TlsMode::starttls;
}

bool trusted(const Settings& settings, const config::Listener& listener, const std::string& address) {
    if (listener.require_auth) return false;
    for (const auto& net : settings.config.trusted_networks)
        if (net.contains(address)) return true;
    return false;
}

// An empty list cannot come from the config loader (it fills loopback in);
// treat it as loopback too rather than as "anyone".
bool proxy_allowed(const config::Listener& listener, const std::string& peer) {
    if (listener.proxy_protocol_from.empty()) return peer.starts_with("127.") || peer == "::1";
    for (const auto& net : listener.proxy_protocol_from)
        if (net.contains(peer)) return true;
    return false;
}

}  // namespace

Connection::Connection(std::shared_ptr<Server::Core> core, const config::Listener& listener,
                       net::ip::tcp::socket socket, ConnectionLimits::Slot slot)
    : core_(std::move(core)),
      settings_(core_->settings),
      listener_(listener),
      stream_(std::move(socket)),
      connection_slot_(std::move(slot)),
      deadline_(core_->io.get_executor(), [this] { on_timeout(); }),
      delay_(core_->io) {
    registration_ = core_->add(this);
    peer_addr_ = address_text(stream_.socket());
    client_addr_ = peer_addr_;
}

Connection::~Connection() {
    if (opened_) core_->metrics.session_closed(listener_.name);
    core_->remove(registration_);
}

std::chrono::milliseconds Connection::idle_timeout() const {
    return settings_->config.limits.idle_timeout;
}

net::awaitable<void> Connection::run(std::shared_ptr<Connection> self) {
    log::debug("smtpd", "connect", {{"client", self->peer_addr_}, {"listener", self->listener_.name}});
    // (GCC 12 miscompiles co_await inside conditions: always await into a
    // variable first.)
    bool admitted = co_await self->admit();
    if (admitted) {
        self->opened_ = true;
        self->core_->metrics.session_opened(self->listener_.name);
        co_await self->drive();
    }
    self->finished_ = true;
    self->deadline_.stop();
    if (self->writer_) self->writer_->abort();
    self->writer_.reset();
    self->stream_.close();
    log::debug("smtpd", "disconnect", {{"client", self->client_addr_}, {"listener", self->listener_.name}});
}

// PROXY header (when the listener expects one, and only from a peer in
// proxy_protocol_from), then the per-address limit, then the implicit TLS
// handshake.
net::awaitable<bool> Connection::admit() {
    if (listener_.proxy_protocol) {
        if (!proxy_allowed(listener_, peer_addr_)) {
            if (auto n = core_->proxy_refused_log.hit(LogThrottle::Clock::now()))
                log::warn("smtpd", "PROXY peer not in proxy_protocol_from: connection closed",
                          {{"peer", peer_addr_}, {"listener", listener_.name}, {"count", std::to_string(n)}});
            co_return false;
        }
        // The TCP peer holds a per-address slot while its header is read, so
        // one address cannot park more than max_connections_per_ip
        // connections in the PROXY phase. No reply: the header has not been
        // read, the bytes that follow may be a TLS ClientHello.
        address_slot_ = core_->limits->try_address(peer_addr_, ConnectionLimits::Count::per_address);
        if (!address_slot_) {
            note_address_limit(peer_addr_);
            co_return false;
        }
        bool ok = co_await read_proxy_header();
        if (!ok) co_return false;
        address_slot_.reset();  // from here the PROXY source address counts
    }
    const bool own_host =
        std::any_of(settings_->config.trusted_networks.begin(), settings_->config.trusted_networks.end(),
                    [&](const config::Cidr& net) { return net.contains(client_addr_); });
    address_slot_ = core_->limits->try_address(
        client_addr_, own_host ? ConnectionLimits::Count::per_address : ConnectionLimits::Count::per_client);
    if (!address_slot_) {
        note_address_limit(client_addr_);
        // Implicit TLS: closed without a handshake, as when overloaded. A
        // 421 inside TLS would cost a handshake and keep the connection (and
        // its max_connections slot) for up to the handshake deadline: one
        // address could then fill every slot despite its own limit.
        if (listener_.tls != config::ListenerTls::implicit)
            co_await send_final(
                protocol::Reply::make(421, protocol::esc::shutting_down,
                                      settings_->config.hostname + " Too many connections, try again later"));
        co_return false;
    }
    if (listener_.tls == config::ListenerTls::implicit) {
        bool ok = co_await start_tls();
        if (!ok) co_return false;
    }
    co_return true;
}

// The header is parsed from peeked bytes, and only header bytes are ever
// consumed: while the parser needs more, everything peeked so far is part of
// the header (it has not ended yet), so it is consumed at once (no unread
// bytes remain, so the next wait really waits); once it is complete, exactly
// its remaining length is consumed and whatever follows (SMTP, or the TLS
// ClientHello on an implicit-TLS listener) stays in the socket for the next
// layer. One deadline for the whole header: a client dripping bytes cannot
// extend it.
net::awaitable<bool> Connection::read_proxy_header() {
    std::vector<char> header(protocol::kProxyMaxHeader);
    std::size_t have = 0;
    const auto deadline = Clock::now() + kProxyTimeout;
    for (;;) {
        arm_until(deadline);
        auto [ec, n] = co_await stream_.peek(header.data() + have, header.size() - have);
        disarm();
        if (ec) {
            log::debug("smtpd", "no PROXY header", {{"peer", peer_addr_}, {"error", ec.message()}});
            co_return false;
        }
        auto result = protocol::parse_proxy_header(std::string_view(header.data(), have + n));
        std::size_t take = n;  // need_more: all of it is header
        if (result.status == protocol::ProxyStatus::done) {
            // The prefix `have` was incomplete, so the header ends after it.
            take = result.consumed > have ? result.consumed - have : 0;
        }
        bool complete = result.status == protocol::ProxyStatus::done && result.consumed > have;
        bool more = result.status == protocol::ProxyStatus::need_more && have + n < header.size();
        if (!complete && !more) {
            log::debug("smtpd", "bad PROXY header",
                       {{"peer", peer_addr_}, {"error", result.error.empty() ? "too long" : result.error}});
            co_return false;
        }
        if (auto consumed = stream_.consume(take)) {
            log::debug("smtpd", "no PROXY header", {{"peer", peer_addr_}, {"error", consumed.message()}});
            co_return false;
        }
        have += take;
        if (more) continue;
        if (!result.header.local && !result.header.src_addr.empty()) client_addr_ = result.header.src_addr;
        log::debug("smtpd", "PROXY header", {{"peer", peer_addr_}, {"client", client_addr_}});
        co_return true;
    }
}

// Any host can hit its limit on purpose: one line a minute, with the count.
void Connection::note_address_limit(const std::string& addr) {
    if (auto n = core_->address_limit_log.hit(LogThrottle::Clock::now()))
        log::info("smtpd", "too many connections from address",
                  {{"client", addr}, {"listener", listener_.name}, {"count", std::to_string(n)}});
}

net::awaitable<bool> Connection::start_tls() {
    if (!settings_->tls) co_return false;  // make_settings refuses a TLS listener without a context
    arm(std::min<std::chrono::milliseconds>(kHandshakeTimeout, idle_timeout()));
    auto ec = co_await stream_.handshake(*settings_->tls);
    disarm();
    if (ec) {
        log::debug("smtpd", "TLS handshake failed", {{"client", client_addr_}, {"error", ec.message()}});
        co_return false;
    }
    co_return true;
}

net::awaitable<void> Connection::drive() {
    protocol::SessionOptions options;
    const auto& config = settings_->config;
    options.hostname = config.hostname;
    options.max_message_size = config.limits.max_message_size;
    options.max_recipients = config.limits.max_recipients;
    options.tls = tls_mode(listener_.tls);
    options.require_auth = listener_.require_auth;
    options.client_trusted = trusted(*settings_, listener_, client_addr_);
    options.client_addr = client_addr_;
    options.listener = listener_.name;
    session_.emplace(std::move(options));

    bool greeted = co_await send(session_->greeting().format(), idle_timeout());
    if (!greeted) co_return;
    for (;;) {
        auto action = session_->next();
        // Anything but NeedMore means a line was completed: the next one
        // gets its own deadline (see act(NeedMore)).
        if (!std::holds_alternative<protocol::action::NeedMore>(action)) line_deadline_.reset();
        bool go = co_await std::visit([this](auto& a) { return act(a); }, action);
        if (!go) co_return;
    }
}

net::awaitable<bool> Connection::send(std::string_view bytes, std::chrono::milliseconds timeout) {
    arm(timeout);
    auto ec = co_await stream_.write(bytes);
    disarm();
    if (ec) log::debug("smtpd", "write failed", {{"client", client_addr_}, {"error", ec.message()}});
    co_return !ec;
}

net::awaitable<bool> Connection::send_final(const protocol::Reply& reply) {
    bool sent = co_await send(reply.format(), kFinalReplyTimeout);
    co_return sent;
}

void Connection::request_stop() {
    stop_requested_ = true;
    if (reading_idle_) stream_.cancel();
}

void Connection::force_close() {
    finished_ = true;
    stream_.close();
}

// ---- deadlines ---------------------------------------------------------
// A deadline that passes with I/O pending (rp::Deadline) cancels the I/O
// once (the driver then sends a final 421); a second one (that final reply
// stalled too) closes the socket.

void Connection::on_timeout() {
    if (finished_) return;
    if (timed_out_) {
        stream_.close();
        return;
    }
    timed_out_ = true;
    log::debug("smtpd", "timeout", {{"client", client_addr_}});
    stream_.cancel();
}

}  // namespace rp::server
