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

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "relay/account_selector.hpp"
#include "relay/clock.hpp"
#include "relay/engine.hpp"
#include "relay/file_spool.hpp"
#include "relay/relay.hpp"
#include "relay/transport.hpp"

namespace rp::relay {

// The intake handed to server/ before the spool exists: refuses (nullptr,
// the server answers 451) until start() opens it, and again after stop().
// Thread-safe.
class IntakeGate final : public SpoolIntake {
  public:
    std::unique_ptr<SpoolWriter> begin(const EnvelopeSpec& envelope) override;
    void open(SpoolIntake* target) { target_.store(target); }

  private:
    std::atomic<SpoolIntake*> target_{nullptr};
};

struct Core {
    Core(std::vector<config::Account> accounts, SelectorOptions options)
        : selector(std::move(accounts), options) {}
    std::unique_ptr<FileSpool> spool;
    std::unique_ptr<Transport> transport;
    AccountSelector selector;
    SystemClock clock;
    std::unique_ptr<Engine> engine;  // last: destroyed first
};

struct Relay::Impl {
    Impl(boost::asio::io_context& io_, const config::Config& config_, metrics::Metrics& metrics_)
        : io(io_), config(config_), metrics(metrics_) {}
    boost::asio::io_context& io;
    config::Config config;
    metrics::Metrics& metrics;
    IntakeGate gate;
    std::shared_ptr<Core> core;
};

}  // namespace rp::relay
