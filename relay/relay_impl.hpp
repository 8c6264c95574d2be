// Internals of the Relay facade shared by relay/relay.cpp (lifecycle) and
// relay/relay_admin.cpp (admin answers). Not for use outside those two files.
//
// Ownership: Relay::Impl holds the Core by shared_ptr and every engine
// coroutine holds it too (EngineOptions::keepalive), so an abandoned delivery
// never outlives the spool, transport or selector it uses. Members are
// destroyed engine first, spool last.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "pool/pool.hpp"
#include "pool/store.hpp"
#include "relay/engine.hpp"
#include "relay/oauth_tokens.hpp"
#include "relay/pool_keeper.hpp"
#include "relay/redis_pool_state.hpp"
#include "relay/relay.hpp"
#include "relay/transport.hpp"
#include "spool/file_spool.hpp"

namespace rp::relay {

// The intake handed to server/ before the spool exists: refuses (nullptr,
// the server answers 451) until start() opens it, and again after stop().
// Thread-safe.
class IntakeGate final : public spool::SpoolIntake {
  public:
    std::unique_ptr<spool::SpoolWriter> begin(const spool::EnvelopeSpec& envelope) override;
    bool storage_low() override;
    void open(spool::SpoolIntake* target) { target_.store(target); }

  private:
    std::atomic<spool::SpoolIntake*> target_{nullptr};
};

struct Core {
    Core(std::vector<config::Account> accounts, pool::Options options)
        : pool(std::move(accounts), std::move(options)) {}
    std::unique_ptr<spool::FileSpool> spool;
    std::shared_ptr<TokenSource> tokens;  // XOAUTH2; null when no account uses oauth2
    std::unique_ptr<Transport> transport;
    pool::Pool pool;
    std::unique_ptr<pool::Store> store;      // pool.state (a file; unused with Redis)
    std::unique_ptr<RedisPoolState> shared;  // pool.state: redis:// or rediss://
    SystemClock clock;
    std::unique_ptr<PoolKeeper> keeper;
    std::unique_ptr<Engine> engine;  // last: destroyed first
};

// The pool's options from the configuration (one place for start and reload).
pool::Options pool_options(const config::Config& config);
// The accounts the pool runs with: the configured ones, or with
// upstream.sandbox and none configured, one stand-in that lets the embedded
// default relay for real (into the sandbox directory).
std::vector<config::Account> engine_accounts(const config::Config& config);

struct Relay::Impl {
    Impl(boost::asio::io_context& io_, const config::Config& config_, metrics::Metrics& metrics_)
        : io(io_), config(config_), metrics(metrics_) {}
    boost::asio::io_context& io;
    config::Config config;
    metrics::Metrics& metrics;
    IntakeGate gate;
    std::shared_ptr<Core> opened;  // open() done: spool, pool.state and keeper ready, not recovered
    std::shared_ptr<Core> core;    // the engine runs (set once recovery is done)
    std::thread recovery;          // recover(): joined by ~Relay
    bool stopping = false;         // stop() was called: a late recovery starts nothing
    void start_engine(const std::shared_ptr<Core>& core, const spool::RecoveryReport& report);
};

}  // namespace rp::relay
