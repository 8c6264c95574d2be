// Relay facade: wires FileSpool, the transport (SmtpTransport, or
// SandboxTransport for upstream.sandbox), the AccountSelector and the Engine,
// and exposes intake, lifecycle and readiness. The admin answers live in
// relay/relay_admin.cpp. See relay.hpp for the contract.
#include "relay/relay.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <map>

#include "common/log.hpp"
#include "config/redis_url.hpp"
#include "oauth/service_account.hpp"
#include "pool/file_store.hpp"
#include "pool/memory_store.hpp"
#include "relay/relay_impl.hpp"
#include "relay/sandbox_transport.hpp"
#include "relay/smtp_transport.hpp"
#include "spool/file_spool.hpp"

namespace rp::relay {

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

pool::Options pool_options(const config::Config& config) {
    pool::Options o;
    o.strategy = config.pool.strategy;
    o.cooldown_temporary = config.pool.cooldown_temporary;
    o.connections_per_account = std::max<std::uint32_t>(1, config.upstream.connections_per_account);
    o.warmup = config.pool.warmup;
    return o;
}

namespace {

// An oauth2 account whose service account key cannot be used could only
// fail: it starts (or, after a reload, goes on) disabled with the reason in
// `pool status` and /readyz, instead of looking healthy until its first send.
void disable_accounts_with_unusable_keys(const config::Config& config, pool::Pool& pool, WallTime now) {
    if (config.upstream.sandbox) return;         // the sandbox needs no credentials
    std::map<std::string, std::string> checked;  // key file -> error ("" = usable)
    for (const auto& a : config.pool.accounts) {
        if (!a.oauth2) continue;
        const std::string& path = a.oauth2->service_account_file;
        if (!checked.contains(path)) checked[path] = oauth::load_service_account_file(path).error;
        const std::string& error = checked[path];
        if (error.empty()) continue;
        if (auto id = pool.find(a.username))
            pool.blame(*id, pool::Blame::disable, "service account key unusable: " + error, now);
        log::error("relay", "pool account's service account key is unusable: account disabled",
                   {{"account", a.username}, {"error", error}});
    }
}

// The pool.state backend named by pool.state: a file path (the embedded
// journal), or redis:// / rediss:// (shared between instances; the local
// store is then an unused in-memory stand-in).
std::unique_ptr<pool::Store> open_store(const config::Config& config, boost::asio::io_context& io,
                                        std::unique_ptr<RedisPoolState>& shared, std::string& error) {
    if (config::is_redis_url(config.pool.state)) {
        auto url = config::parse_redis_url(config.pool.state, error);
        if (!url) return nullptr;
        shared = std::make_unique<RedisPoolState>(io.get_executor(), *url, config.pool.state_password);
        return std::make_unique<pool::MemoryStore>();
    }
    return pool::FileStore::open(config.pool.state, error);
}

// Shared mode: readiness turns into the backend metric, and a change made
// by another instance (or Redis coming back) wakes the engine.
void wire_shared(Core& core, metrics::Metrics& metrics) {
    Core* c = &core;
    core.keeper->share(core.shared.get(), [c] {
        if (c->engine) c->engine->poke();
    });
    core.shared->on_ready([c, &metrics](bool up) {
        metrics.set_state_backend_up(up);
        if (!up) return;
        c->keeper->flush_soon();  // settlements that waited for Redis
        if (c->engine) c->engine->poke();
    });
    metrics.set_state_backend_up(false);
}

// XOAUTH2 tokens for the upstream: made even when no account uses oauth2
// today, so a reload that adds one needs no restart.
std::shared_ptr<TokenSource> make_token_source(boost::asio::io_context& io, const config::Config& config,
                                               const Clock& clock, metrics::Metrics& metrics) {
    if (config.upstream.sandbox) return nullptr;
    TokenSourceOptions o;
    o.ca_file = config.upstream.ca_file;
    return std::make_shared<TokenSource>(io.get_executor(), clock, std::move(o), &metrics);
}

std::unique_ptr<Transport> make_transport(boost::asio::io_context& io, const config::Config& config,
                                          std::shared_ptr<TokenSource> tokens) {
    if (config.upstream.sandbox) {
        return std::make_unique<SandboxTransport>(SandboxOptions{
            *config.upstream.sandbox, config.upstream.strip_headers, config.upstream.sender_rewrite});
    }
    return std::make_unique<SmtpTransport>(io.get_executor(), SmtpTransportOptions::from_config(config),
                                           std::move(tokens));
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

std::unique_ptr<spool::SpoolWriter> IntakeGate::begin(const spool::EnvelopeSpec& envelope) {
    spool::SpoolIntake* target = target_.load();
    return target ? target->begin(envelope) : nullptr;
}

bool IntakeGate::storage_low() {
    spool::SpoolIntake* target = target_.load();
    return target && target->storage_low();
}

Relay::Relay(boost::asio::io_context& io, const config::Config& config, metrics::Metrics& metrics)
    : impl_(std::make_unique<Impl>(io, config, metrics)) {}

Relay::~Relay() {
    impl_->stopping = true;
    if (impl_->recovery.joinable()) impl_->recovery.join();
    impl_->gate.open(nullptr);
    if (impl_->core && impl_->core->engine) impl_->core->engine->stop(nullptr);
}

spool::SpoolIntake& Relay::intake() {
    return impl_->gate;
}

std::error_code Relay::open() {
    if (impl_->opened || impl_->core) return {};
    const config::Config& config = impl_->config;
    spool::FileSpoolOptions spool_options;
    spool_options.directory = config.queue.directory;
    spool_options.metrics = &impl_->metrics;
    spool_options.min_free_space = config.queue.min_free_space;
    auto opened = spool::FileSpool::open(std::move(spool_options));
    if (!opened) {
        log::error("relay", "cannot open the queue directory",
                   {{"directory", config.queue.directory}, {"error", opened.error.message()}});
        return opened.error;
    }
    auto core = std::make_shared<Core>(engine_accounts(config), pool_options(config));
    std::string store_error;
    core->store = open_store(config, impl_->io, core->shared, store_error);
    if (!core->store) {
        log::error("relay", "cannot open pool.state", {{"file", config.pool.state}, {"error", store_error}});
        return std::make_error_code(std::errc::resource_unavailable_try_again);
    }
    core->keeper =
        std::make_unique<PoolKeeper>(impl_->io.get_executor(), core->pool, *core->store, core->clock);
    if (core->shared)
        wire_shared(*core, impl_->metrics);
    else
        impl_->metrics.set_state_backend_up(true);
    if (auto ec = core->keeper->open()) return ec;
    disable_accounts_with_unusable_keys(config, core->pool, core->clock.now());
    core->spool = std::move(opened.value);
    impl_->opened = core;
    return {};
}

void Relay::recover(std::function<void(std::error_code)> done) {
    auto core = impl_->opened;
    if (!core) {
        boost::asio::post(impl_->io, [done] { done(std::make_error_code(std::errc::bad_file_descriptor)); });
        return;
    }
    // Reading every queued message's state takes seconds with a big backlog
    // (100,000: ~3.5 s here): do it on its own thread while the listeners
    // already answer (the intake gate refuses mail until the engine runs).
    Impl* impl = impl_.get();
    impl->recovery = std::thread([impl, core, done = std::move(done)]() mutable {
        auto recovered = core->spool->recover();
        boost::asio::post(impl->io, [impl, core, recovered = std::move(recovered), done = std::move(done)]() {
            if (impl->stopping) return;  // SIGTERM came first: nothing starts
            if (!recovered) {
                log::error("relay", "spool recovery failed", {{"error", recovered.error.message()}});
                done(recovered.error);
                return;
            }
            impl->start_engine(core, recovered.value);
            done({});
        });
    });
}

std::error_code Relay::start() {
    if (auto ec = open()) return ec;
    auto core = impl_->opened;
    if (!core || impl_->core) return {};
    auto recovered = core->spool->recover();
    if (!recovered) {
        log::error("relay", "spool recovery failed", {{"error", recovered.error.message()}});
        return recovered.error;
    }
    impl_->start_engine(core, recovered.value);
    return {};
}

void Relay::Impl::start_engine(const std::shared_ptr<Core>& core, const spool::RecoveryReport& r) {
    log::info("relay", "spool recovered",
              {{"messages", std::to_string(r.messages.size())},
               {"interrupted", std::to_string(r.interrupted)},
               {"quarantined", std::to_string(r.quarantined)},
               {"ms", std::to_string(r.elapsed.count())}});
    core->tokens = make_token_source(io, config, core->clock, metrics);
    core->transport = make_transport(io, config, core->tokens);
    const std::size_t window = std::max<std::size_t>(1, config.upstream.connections_per_account) *
                               std::max<std::size_t>(1, core->pool.size());
    DeliveryContext ctx{*core->spool, *core->spool, *core->transport,        *core->keeper,
                        metrics,      core->clock,  delivery_options(config)};
    core->engine =
        std::make_unique<Engine>(io.get_executor(), std::move(ctx),
                                 EngineOptions{.max_active = window,
                                               .stop_grace = std::chrono::seconds(10),
                                               .keepalive = core,
                                               .on_publish = [tokens = core->tokens](WallTime now) {
                                                   if (tokens) tokens->publish(now);
                                               }});
    this->core = core;
    core->engine->start(r.messages);
    gate.open(core->spool.get());
    if (config.upstream.sandbox)
        log::warn("relay", "upstream sandbox: messages are written to a directory, not sent",
                  {{"directory", *config.upstream.sandbox}});
}

void Relay::stop(std::function<void()> on_stopped) {
    impl_->stopping = true;
    impl_->gate.open(nullptr);
    if (!impl_->core) {
        if (impl_->opened && impl_->opened->shared) impl_->opened->shared->stop();
        if (on_stopped) boost::asio::post(impl_->io, std::move(on_stopped));
        return;
    }
    // The shared state (Redis) stops after the engine: its last sends may
    // still settle; then no reconnect or poll keeps the loop alive.
    std::weak_ptr<Core> weak = impl_->core;
    impl_->core->engine->stop([weak, on_stopped = std::move(on_stopped)]() mutable {
        auto core = weak.lock();
        if (!core || !core->shared) {
            if (on_stopped) on_stopped();
            return;
        }
        core->keeper->shutdown([core, on_stopped = std::move(on_stopped)] {
            if (on_stopped) on_stopped();
        });
    });
}

void Relay::reload(const config::Config& config) {
    // The pool takes the new accounts, limits, strategy and warm-up at once;
    // queue and upstream settings apply after a restart.
    Core* core = impl_->core.get();
    if (!core || config.upstream.sandbox != impl_->config.upstream.sandbox) {
        log::warn("relay", "configuration reloaded: queue, upstream and pool settings apply after a restart");
        return;
    }
    const auto r = core->pool.reload(engine_accounts(config), pool_options(config), core->clock.now());
    disable_accounts_with_unusable_keys(config, core->pool, core->clock.now());
    core->keeper->flush_soon();
    core->engine->set_max_active(std::max<std::size_t>(1, config.upstream.connections_per_account) *
                                 std::max<std::size_t>(1, core->pool.size()));
    auto joined = [](const std::vector<std::string>& names) {
        std::string out;
        for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
        return out;
    };
    log::info("relay", "pool reloaded (accounts, limits, strategy, warm-up; disabled accounts enabled)",
              {{"updated", std::to_string(r.updated.size())},
               {"added", joined(r.added)},
               {"removed", joined(r.removed)}});
    log::info("relay", "queue and upstream settings apply after a restart");
    core->engine->poke();
}

std::string Relay::readiness_problem() const {
    Core* core = impl_->core.get();
    if (!core && impl_->opened && !impl_->stopping) return "recovering the queue";
    if (!core || !core->engine->running()) return "relay engine not running";
    if (!core->spool->writable()) return "queue directory not writable: " + core->spool->directory();
    if (!core->keeper->problem().empty()) return core->keeper->problem();
    if (!core->pool.any_usable(core->clock.now())) return "no usable pool account";
    return "";
}

}  // namespace rp::relay
