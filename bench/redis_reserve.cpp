// Reservation round trips per second against a Redis (bench/README.md
// "Shared pool state in Redis"): the reservation script (EVALSHA, the
// windows checked and the send reserved in one step) followed by its
// settlement, as relaypool does per message, through RedisPoolState on
// one Asio thread. With 1 in flight it measures the round trip; with more
// in flight the pipelining (what concurrent deliveries get).
//
//   bench/redis_reserve REDIS_PORT [N=20000]
//
// Uses its own key prefix (bench<pid>) and deletes nothing else. Timings
// only; never a test.
#include <boost/asio/io_context.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "relay/redis_connection.hpp"
#include "relay/redis_pool_state.hpp"

using namespace rp;

namespace {

struct Run {
    boost::asio::io_context& io;
    relay::RedisPoolState& state;
    int total;
    int in_flight;
    int started = 0, done = 0, refused = 0;
    std::uint64_t seq = 0;

    void one() {
        const int account = started++ % 60;
        const std::string name = "acct" + std::to_string(account) + "@pool.example";
        const std::string id = "b" + std::to_string(++seq);
        pool::Limits l;
        l.daily = 1000000;
        l.recipients = 0;
        l.hourly = 0;
        state.reserve(name, id, 1, l, [this, name, id](relay::SharedReserve r) {
            if (r.result != relay::SharedReserve::Result::ok) ++refused;
            state.settle(name, id, 1);
            ++done;
            if (started < total) one();
        });
    }
};

double measure(boost::asio::io_context& io, relay::RedisPoolState& state, int n, int in_flight,
               int& refused) {
    Run run{io, state, n, in_flight};
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < in_flight && run.started < n; ++i) run.one();
    while (run.done < n) io.run_one();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    refused = run.refused;
    return n / s;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s REDIS_PORT [N]\n", argv[0]);
        return 2;
    }
    const int n = argc > 2 ? std::atoi(argv[2]) : 20000;
    boost::asio::io_context io;
    config::RedisUrl url;
    url.host = "127.0.0.1";
    url.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
    url.prefix = "bench" + std::to_string(::getpid());
    relay::RedisPoolState state(io.get_executor(), url, "");
    state.start();
    for (int i = 0; i < 400 && !state.ready(); ++i) io.run_for(std::chrono::milliseconds(25));
    if (!state.ready()) {
        std::fprintf(stderr, "Redis not ready: %s\n", state.problem().c_str());
        return 1;
    }
    auto report = [&](const char* what) {
        for (int in_flight : {1, 8, 64}) {
            int refused = 0;
            const double rate = measure(io, state, n, in_flight, refused);
            std::printf("%s, in flight %2d: %8.0f reservations+settlements/s (%d refused)\n", what, in_flight,
                        rate, refused);
        }
    };
    report("fresh windows");
    // The worst case for the script: every minute of the last 24 h has a
    // send on every account (1,441 x 2 hash fields each; the first
    // reservation recounts them, the next ones read the kept totals).
    const auto minute =
        std::chrono::duration_cast<std::chrono::minutes>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    int filled = 0;
    for (int a = 0; a < 60; ++a) {
        std::vector<std::string> cmd{"HSET", url.prefix + ":u:acct" + std::to_string(a) + "@pool.example"};
        for (long m = minute - 1440; m <= minute; ++m) {
            for (const char* kind : {"m", "r"}) {
                cmd.push_back(kind + std::to_string(m));
                cmd.push_back("1");
            }
        }
        state.raw(std::move(cmd), [&](relay::RedisReply) { ++filled; });
    }
    while (filled < 60) io.run_one();
    report("full 24 h windows");
    state.stop();
    return 0;
}
