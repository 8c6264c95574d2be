// What a queued message costs the delivery engine in memory: the Scheduler
// index (relay/scheduler.*) is the only per-message state the engine keeps
// (envelopes are loaded only for the bounded active window, bodies never).
// Indexes N synthetic summaries and prints the resident-set growth per
// message, then takes one active window and releases everything.
// Not a test: it reports, it does not pass or fail.
//   cmake --build build/release --target backlog_memory   (bench/CMakeLists.txt)
//   build/release/bench/backlog_memory 10000 100000 1000000
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "relay/scheduler.hpp"

namespace {

long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == "VmRSS:") {
            long kib = 0;
            in >> kib;
            return kib;
        }
        in.ignore(1 << 12, '\n');
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rp::spool;
    using namespace rp::relay;
    const rp::WallTime t0 = std::chrono::system_clock::now();
    for (int a = 1; a < argc; ++a) {
        const long n = std::atol(argv[a]);
        const long before = rss_kib();
        {
            Scheduler s(120);  // 60 accounts x 2 connections
            for (long i = 0; i < n; ++i) {
                MessageSummary m;
                char id[17];
                std::snprintf(id, sizeof id, "%016lx", 0x6611f3d8c5400000L + i);
                m.id = id;
                m.arrival = t0 + std::chrono::milliseconds(i);
                m.recipients_total = m.recipients_pending = 1;
                s.add(m);
            }
            const long after = rss_kib();
            const auto active = s.take_due(t0 + std::chrono::hours(1), 1000000).size();
            std::printf("%9ld queued: +%ld KiB resident, %.0f bytes/message; active window %zu\n", n,
                        after - before, 1024.0 * static_cast<double>(after - before) / static_cast<double>(n),
                        active);
        }
    }
    return 0;
}
