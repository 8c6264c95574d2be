// Relay facade: wires FileSpool, the transport (SmtpTransport, or
// SandboxTransport for upstream.sandbox), the AccountSelector and the Engine,
// and exposes intake, lifecycle and readiness. The admin answers live in
// relay/relay_admin.cpp. See relay.hpp for the contract.
#include "relay/relay.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>

#include "common/log.hpp"
#include "relay/file_spool.hpp"
#include "relay/relay_impl.hpp"
#include "relay/sandbox_transport.hpp"
#include "relay/smtp_transport.hpp"

namespace rp::relay {

namespace {

// With upstream.sandbox and no pool accounts, one stand-in account lets the
// embedded default relay for real (into the sandbox directory).
std::vector<config::Account> engine_accounts(const config::Config& config) {
    std::vector<config::Account> accounts = config.pool.accounts;
    if (accounts.empty() && config.upstream.sandbox) {
        config::Account a;
        a.username = "sandbox@" + (config.hostname.empty() ? std::string("localhost") : config.hostname);
        a.daily_limit = 0;  // no limit
        a.daily_recipient_limit = 0;
        accounts.push_back(std::move(a));
    }
    return accounts;
}

std::unique_ptr<Transport> make_transport(boost::asio::io_context& io, const config::Config& config) {
    if (config.upstream.sandbox) {
        return std::make_unique<SandboxTransport>(SandboxOptions{
            *config.upstream.sandbox, config.upstream.strip_headers, config.upstream.sender_rewrite});
    }
    return std::make_unique<SmtpTransport>(io.get_executor(), SmtpTransportOptions::from_config(config));
}

DeliveryOptions delivery_options(const config::Config& config) {
    DeliveryOptions o;
    o.max_age = config.queue.max_age;
    o.retry_initial = config.queue.retry_initial;
    o.retry_max = config.queue.retry_max;
    o.sender_rewrite = config.upstream.sender_rewrite;
    o.hostname = config.hostname.empty() ? "localhost" : config.hostname;
    o.remote_mta = config.upstream.sandbox ? "sandbox" : config.upstream.host;
    o.max_message_size = config.limits.max_message_size;
    return o;
}

}  // namespace

std::unique_ptr<SpoolWriter> IntakeGate::begin(const EnvelopeSpec& envelope) {
    SpoolIntake* target = target_.load();
    return target ? target->begin(envelope) : nullptr;
}

Relay::Relay(boost::asio::io_context& io, const config::Config& config, metrics::Metrics& metrics)
    : impl_(std::make_unique<Impl>(io, config, metrics)) {}

Relay::~Relay() {
    impl_->gate.open(nullptr);
    if (impl_->core && impl_->core->engine) impl_->core->engine->stop(nullptr);
}

SpoolIntake& Relay::intake() {
    return impl_->gate;
}

std::error_code Relay::start() {
    if (impl_->core) return {};
    const config::Config& config = impl_->config;
    FileSpoolOptions spool_options;
    spool_options.directory = config.queue.directory;
    spool_options.metrics = &impl_->metrics;
    auto opened = FileSpool::open(std::move(spool_options));
    if (!opened) {
        log::error("relay", "cannot open the queue directory",
                   {{"directory", config.queue.directory}, {"error", opened.error.message()}});
        return opened.error;
    }
    auto core = std::make_shared<Core>(
        engine_accounts(config),
        SelectorOptions{config.pool.cooldown_temporary, config.upstream.connections_per_account});
    core->spool = std::move(opened.value);
    auto recovered = core->spool->recover();
    if (!recovered) {
        log::error("relay", "spool recovery failed", {{"error", recovered.error.message()}});
        return recovered.error;
    }
    const RecoveryReport& r = recovered.value;
    log::info("relay", "spool recovered",
              {{"messages", std::to_string(r.messages.size())},
               {"interrupted", std::to_string(r.interrupted)},
               {"quarantined", std::to_string(r.quarantined)},
               {"ms", std::to_string(r.elapsed.count())}});
    core->transport = make_transport(impl_->io, config);
    const std::size_t window = std::max<std::size_t>(1, config.upstream.connections_per_account) *
                               std::max<std::size_t>(1, core->selector.size());
    DeliveryContext ctx{*core->spool,   *core->spool, *core->transport,        core->selector,
                        impl_->metrics, core->clock,  delivery_options(config)};
    core->engine = std::make_unique<Engine>(
        impl_->io.get_executor(), std::move(ctx),
        EngineOptions{.max_active = window, .stop_grace = std::chrono::seconds(10), .keepalive = core});
    impl_->core = core;
    core->engine->start(r.messages);
    impl_->gate.open(core->spool.get());
    if (config.upstream.sandbox)
        log::warn("relay", "upstream sandbox: messages are written to a directory, not sent",
                  {{"directory", *config.upstream.sandbox}});
    return {};
}

void Relay::stop(std::function<void()> on_stopped) {
    impl_->gate.open(nullptr);
    if (!impl_->core) {
        if (on_stopped) boost::asio::post(impl_->io, std::move(on_stopped));
        return;
    }
    impl_->core->engine->stop(std::move(on_stopped));
}

void Relay::reload(const config::Config& config) {
    // Accounts known at start take new credentials and limits (and disabled
    // ones are enabled again); adding/removing accounts, queue and upstream
    // settings apply after a restart (live pool reload is the pool issue).
    Core* core = impl_->core.get();
    if (!core || config.upstream.sandbox != impl_->config.upstream.sandbox) {
        log::warn("relay", "configuration reloaded: queue, upstream and pool settings apply after a restart");
        return;
    }
    const auto r = core->selector.reload(config.pool.accounts);
    std::string added, removed;
    for (const auto& n : r.ignored_added) added += (added.empty() ? "" : ",") + n;
    for (const auto& n : r.ignored_removed) removed += (removed.empty() ? "" : ",") + n;
    log::info("relay", "pool accounts reloaded (credentials, limits; disabled accounts enabled)",
              {{"updated", std::to_string(r.updated)}});
    if (!added.empty() || !removed.empty())
        log::warn("relay", "added or removed pool accounts apply after a restart",
                  {{"added", added}, {"removed", removed}});
    log::info("relay", "queue and upstream settings apply after a restart");
    core->engine->poke();
}

std::string Relay::readiness_problem() const {
    const Core* core = impl_->core.get();
    if (!core || !core->engine->running()) return "relay engine not running";
    if (!core->spool->writable()) return "queue directory not writable: " + core->spool->directory();
    if (!core->engine->selector().any_usable(core->clock.now())) return "no usable pool account";
    return "";
}

}  // namespace rp::relay
