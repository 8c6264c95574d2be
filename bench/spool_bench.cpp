// spool_bench: FileSpool end to end on this machine. (1) Commit throughput
// and latency of 4 KiB messages with 1, 16 and 64 intakes in flight (as
// concurrent SMTP sessions would have); (2) recovery time of a queue of N
// messages (default 20,000), with the page cache warm. Timings only, not a
// test. Compare with bench/fsync_ceiling.cpp (the same protocol without
// relaypool).
//
// Build (not part of the default build):
//   cmake --build build/release --target spool_bench   (bench/CMakeLists.txt)
// Run:  [SPOOL_WORKERS=8] [WITH_STATE=1] build/release/bench/spool_bench [DIR, default /var/tmp] [recovery
// messages, default 20000] WITH_STATE=1 gives every message a state file first (a deferred message, as after
// an upstream outage): the restart-with-a-backlog case. KEEP_DIR=1 keeps the queue (its path is printed) for
// bench/restart_bench.sh, which restarts the real binary on it.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "spool/file_spool.hpp"

using namespace rp::spool;
using Clock = std::chrono::steady_clock;

namespace {

EnvelopeSpec envelope() {
    EnvelopeSpec e;
    e.mail_from = "app@example.com";
    e.recipients = {{"someone@example.net", "", ""}};
    e.listener = "submission";
    e.client_addr = "192.0.2.1";
    e.helo = "client";
    e.auth_user = "app";
    return e;
}

// About 4 KiB of a well-formed message (relaypool can deliver it: lines
// well under 998 octets, a header block).
std::string message_body() {
    std::string m = "From: app@example.com\r\nTo: someone@example.net\r\nSubject: bench\r\n\r\n";
    while (m.size() < 4096) m += std::string(76, 'b') + "\r\n";
    return m;
}

// Gives every queued message a deferred state file, 256 writes in flight
// (they share directory fsyncs, as the engine's would).
void write_states(FileSpool& spool) {
    const auto t_state = Clock::now();
    std::mutex mu;
    std::condition_variable cv;
    std::size_t outstanding = 0, written = 0;
    for (const auto& id : spool.list()) {
        auto m = spool.load(id);
        if (!m) continue;
        DeliveryState st = m.value.state;
        st.state = MessageState::deferred;
        st.attempts = 1;
        st.last_error = "421 4.7.0 Try again later";
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return outstanding < 256; });
        ++outstanding;
        lock.unlock();
        spool.update_state_async(id, st, [&](std::error_code ec) {
            std::lock_guard l(mu);
            if (!ec) ++written;
            --outstanding;
            cv.notify_all();
        });
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
    std::printf("state files written: %zu in %.1f s\n", written,
                std::chrono::duration<double>(Clock::now() - t_state).count());
}

// Keeps `in_flight` commits outstanding until `total` are done.
void commits(FileSpool& spool, int total, int in_flight) {
    const std::string body = message_body();
    std::mutex mu;
    std::condition_variable cv;
    int started = 0, finished = 0, outstanding = 0;
    std::vector<double> lat;
    const auto t0 = Clock::now();
    std::unique_lock lock(mu);
    while (finished < total) {
        while (started < total && outstanding < in_flight) {
            ++started;
            ++outstanding;
            lock.unlock();
            auto w = spool.begin(envelope());
            if (!w || !w->append(body)) {
                std::fprintf(stderr, "intake failed\n");
                std::exit(1);
            }
            const auto begun = Clock::now();
            w->commit([&, begun](std::error_code ec, std::string) {
                std::lock_guard l(mu);
                if (ec) std::fprintf(stderr, "commit failed: %s\n", ec.message().c_str());
                lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begun).count());
                ++finished;
                --outstanding;
                cv.notify_all();
            });
            lock.lock();
        }
        cv.wait(lock, [&] { return finished >= total || (started < total && outstanding < in_flight); });
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::sort(lat.begin(), lat.end());
    std::printf("commit  in_flight %3d: %6d msgs %7.2f s %7.0f msg/s  latency p50 %6.2f ms p99 %6.2f ms\n",
                in_flight, total, s, total / s, lat[lat.size() / 2], lat[lat.size() * 99 / 100]);
}

}  // namespace

int main(int argc, char** argv) {
    rp::log::configure(rp::log::Level::warn, rp::log::Format::text);
    const std::string base = argc > 1 ? argv[1] : "/var/tmp";
    const int n_recover = argc > 2 ? std::atoi(argv[2]) : 20000;
    const std::string dir = base + "/spool-bench-" + std::to_string(::getpid());
    const char* w = std::getenv("SPOOL_WORKERS");  // FileSpoolOptions::commit_workers
    const unsigned workers = w ? static_cast<unsigned>(std::atoi(w)) : 8;
    std::printf("commit workers %u\n", workers);

    {
        auto spool = FileSpool::open({.directory = dir, .commit_workers = workers, .faults = {}});
        if (!spool || !spool.value->recover()) return 1;
        commits(*spool.value, 200, 1);
        commits(*spool.value, 2000, 16);
        commits(*spool.value, 4000, 64);
        const int have = 6200;
        if (n_recover > have) commits(*spool.value, n_recover - have, 64);
        if (std::getenv("WITH_STATE")) write_states(*spool.value);
    }
    auto spool = FileSpool::open({.directory = dir, .commit_workers = workers, .faults = {}});
    const auto t0 = Clock::now();
    auto rec = spool.value->recover();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("recover %zu messages: %.3f s (%.1f us/message), quarantined %zu\n",
                rec.value.messages.size(), s, s * 1e6 / static_cast<double>(rec.value.messages.size()),
                rec.value.quarantined);
    spool.value.reset();
    if (std::getenv("KEEP_DIR")) {  // a queue to restart relaypool on (bench/README.md)
        std::printf("kept %s\n", dir.c_str());
        return 0;
    }
    std::filesystem::remove_all(dir);
    return 0;
}
