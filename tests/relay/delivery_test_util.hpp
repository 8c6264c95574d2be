// Test rig for the delivery engine: MemorySpool + a scripted fake Transport +
// ManualClock + real Metrics, driven by polling the io_context until nothing
// is runnable (no test waits for real time; time moves only by advance()).
// Test code only.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "metrics/metrics.hpp"
#include "pool/memory_store.hpp"
#include "pool/pool.hpp"
#include "relay/engine.hpp"
#include "relay/transport.hpp"
#include "spool/memory_spool.hpp"

namespace engine_test {

using namespace rp;
using protocol::LocalFailure;
using protocol::Stage;
using protocol::UpstreamOutcome;

inline UpstreamOutcome reply(Stage stage, int code, std::string enhanced, std::string text) {
    return UpstreamOutcome{stage, code, std::move(enhanced), std::move(text), LocalFailure::none};
}
inline UpstreamOutcome local(LocalFailure f, std::string text) {
    return UpstreamOutcome{Stage::connect, 0, "", std::move(text), f};
}

// Every recipient gets `o`.
inline relay::DeliveryReport all(const relay::DeliveryRequest& r, const UpstreamOutcome& o) {
    relay::DeliveryReport rep;
    for (const auto& a : r.recipients) rep.recipients.push_back({a, o});
    return rep;
}
inline relay::DeliveryReport delivered(const relay::DeliveryRequest& r) {
    return all(r, reply(Stage::body, 250, "2.0.0", "OK"));
}
inline relay::DeliveryReport session_failed(const UpstreamOutcome& o) {
    relay::DeliveryReport rep;
    rep.session_failure = o;
    return rep;
}

// A scripted transport: `script` decides each report (default: delivered).
// With hold(true), deliver() parks until release() (to observe the window).
class FakeTransport final : public relay::Transport {
  public:
    explicit FakeTransport(boost::asio::io_context& io) : io_(io) {}

    std::function<relay::DeliveryReport(const relay::DeliveryRequest&)> script = delivered;
    std::vector<relay::DeliveryRequest> calls;
    std::size_t in_flight = 0;
    std::size_t max_in_flight = 0;
    bool shut = false;

    void hold(bool h) { hold_ = h; }
    void release() {
        hold_ = false;
        for (auto& t : parked_) t->cancel();
    }

    boost::asio::awaitable<relay::DeliveryReport> deliver(relay::DeliveryRequest request) override {
        calls.push_back(request);
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        if (hold_) {
            auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::hours(1));
            parked_.push_back(timer);
            boost::system::error_code ec;
            co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
        }
        --in_flight;
        co_return script(request);
    }
    void shutdown() override { shut = true; }

  private:
    boost::asio::io_context& io_;
    bool hold_ = false;
    std::vector<std::shared_ptr<boost::asio::steady_timer>> parked_;
};

// The intake the engine queues DSNs through: forwards to the spool and keeps
// a copy of every envelope and text (a DSN may be gone again by the time a
// test looks: ManualClock time and MemorySpool arrival times differ).
class RecordingIntake final : public spool::SpoolIntake {
  public:
    explicit RecordingIntake(spool::SpoolIntake& target) : target_(target) {}
    struct Queued {
        spool::EnvelopeSpec envelope;
        std::string text;
    };
    std::vector<Queued> queued;

    std::unique_ptr<spool::SpoolWriter> begin(const spool::EnvelopeSpec& envelope) override {
        auto w = target_.begin(envelope);
        if (!w) return w;
        queued.push_back({envelope, ""});
        return std::make_unique<Writer>(std::move(w), queued.back().text);
    }

  private:
    class Writer final : public spool::SpoolWriter {
      public:
        Writer(std::unique_ptr<spool::SpoolWriter> w, std::string& text) : w_(std::move(w)), text_(text) {}
        bool append(std::string_view b) override {
            text_ += b;
            return w_->append(b);
        }
        std::uint64_t size() const override { return w_->size(); }
        void commit(std::function<void(std::error_code, std::string)> done) override {
            w_->commit(std::move(done));
        }
        void abort() override { w_->abort(); }

      private:
        std::unique_ptr<spool::SpoolWriter> w_;
        std::string& text_;
    };
    spool::SpoolIntake& target_;
};

inline config::Account account(std::string name, std::uint32_t daily = 2000,
                               std::uint32_t daily_rcpt = 2000) {
    config::Account a;
    a.username = std::move(name);
    a.password = "x";
    a.daily_limit = daily;
    a.daily_recipient_limit = daily_rcpt;
    return a;
}

inline pool::Options pool_options(std::uint32_t connections) {
    pool::Options o;
    o.cooldown_temporary = std::chrono::minutes(15);
    o.connections_per_account = connections;
    return o;
}

struct Rig {
    boost::asio::io_context io;
    spool::MemorySpool spool;
    RecordingIntake dsns{spool};
    FakeTransport transport{io};
    ManualClock clock{std::chrono::system_clock::now()};
    metrics::Metrics metrics;
    pool::Pool pool;
    pool::MemoryStore store;
    relay::PoolKeeper keeper{io.get_executor(), pool, store, clock};
    relay::DeliveryOptions options;
    std::unique_ptr<relay::Engine> engine;

    explicit Rig(std::vector<config::Account> accounts = {account("a@pool.example"),
                                                          account("b@pool.example")},
                 std::uint32_t connections = 2)
        : pool(std::move(accounts), pool_options(connections)) {
        options.max_age = std::chrono::hours(24);
        options.retry_initial = std::chrono::minutes(1);
        options.retry_max = std::chrono::hours(1);
        options.hostname = "relay.test";
        options.remote_mta = "smtp.upstream.test";
        options.jitter = [] { return 0.5; };  // no jitter: delays are exact
    }

    void start() {
        REQUIRE_FALSE(keeper.open());
        relay::DeliveryContext ctx{spool, dsns, transport, keeper, metrics, clock, options};
        const std::size_t window = std::max<std::size_t>(1, pool.size()) * 2;
        engine = std::make_unique<relay::Engine>(io.get_executor(), std::move(ctx),
                                                 relay::EngineOptions{.max_active = window, .keepalive = {}});
        engine->start(spool.recover().value.messages);
        run();
    }

    // Runs every handler that is ready now (timers in the future stay).
    void run() {
        for (int i = 0; i < 10000; ++i) {
            io.restart();
            if (io.poll() == 0) return;
        }
    }

    // Moves the clock and wakes the engine (as its timer would).
    void advance(std::chrono::milliseconds d) {
        clock.advance(d);
        engine->poke();
        run();
    }

    std::string submit(const std::string& from, const std::vector<std::string>& rcpts,
                       const std::string& body = "Subject: hi\r\n\r\nhello\r\n",
                       const std::string& notify = "", const std::string& ret = "",
                       const std::string& envid = "") {
        spool::EnvelopeSpec env;
        env.mail_from = from;
        for (const auto& r : rcpts) env.recipients.push_back({r, notify, ""});
        env.ret = ret;
        env.envid = envid;
        env.listener = "submission";
        auto w = spool.begin(env);
        REQUIRE(w);
        REQUIRE(w->append(body));
        std::string id;
        w->commit([&](std::error_code ec, std::string got) {
            REQUIRE_FALSE(ec);
            id = got;
        });
        run();
        return id;
    }

    std::string body_of(const std::string& id) { return spool.read_body(id, 1 << 20).value; }

    // The value of one sample of the Prometheus text output (0 when absent).
    double metric(const std::string& name, const std::vector<std::string>& labels = {}) {
        std::istringstream in(metrics.serialize());
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind(name, 0) != 0) continue;
            const char next = line.size() > name.size() ? line[name.size()] : ' ';
            if (next != '{' && next != ' ') continue;
            bool match = true;
            for (const auto& l : labels) match = match && line.find(l) != std::string::npos;
            if (match) return std::stod(line.substr(line.rfind(' ') + 1));
        }
        return 0;
    }

    pool::AccountStatus status_of(const std::string& name) {
        for (auto& s : pool.status(clock.now()))
            if (s.name == name) return s;
        FAIL("no such account");
        return {};
    }
};

}  // namespace engine_test
