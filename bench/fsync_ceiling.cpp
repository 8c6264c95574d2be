// fsync_ceiling: this machine's ceiling for the spool's durability
// protocol, without relaypool: per message write 4 KiB to tmp/, fdatasync,
// rename into queue/, fsync queue/. Modes:
//   single      one message at a time (what every 250 would cost alone)
//   group16     16 messages per batch, fdatasyncs one after another, one dir fsync
//   group16par4  16 per batch, fdatasyncs issued from 4 threads at once, one dir fsync
//   group16par16 the same from 16 threads (spool/group_commit.cpp: one fsync
//                thread per job of a batch, up to FileSpoolOptions::fsync_threads)
//   group64par64 64 per batch from 64 threads
//   threads16   16 threads each doing `single` independently (no batching)
// Prints messages/s and per-batch latency (p50/p99). Not a test: timings only.
//
// Build (standard library + POSIX only; not part of the default build):
//   cmake --build build/release --target fsync_ceiling   (bench/CMakeLists.txt)
// Run:  build/release/bench/fsync_ceiling [DIR on the spool's filesystem, default /var/tmp] [messages,
// default 2000]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

struct Dirs {
    std::string tmp, queue;
    int queue_fd = -1;
};

const std::string payload(4096, 'x');

// Writes tmp/<name>; returns the open fd.
int write_tmp(const Dirs& d, const std::string& name) {
    int fd = ::open((d.tmp + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("open");
    if (::write(fd, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) die("write");
    return fd;
}

void publish(const Dirs& d, const std::string& name) {
    if (::rename((d.tmp + name).c_str(), (d.queue + name).c_str()) != 0) die("rename");
}

// One batch of `n` messages; `par` threads for the fdatasyncs.
void batch(const Dirs& d, int n, int par, long& seq) {
    std::vector<int> fds;
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) {
        names.push_back("m" + std::to_string(seq++));
        fds.push_back(write_tmp(d, names.back()));
    }
    if (par <= 1) {
        for (int fd : fds)
            if (::fdatasync(fd) != 0) die("fdatasync");
    } else {
        std::vector<std::thread> ts;
        for (int t = 0; t < par; ++t)
            ts.emplace_back([&, t] {
                for (int i = t; i < n; i += par)
                    if (::fdatasync(fds[i]) != 0) die("fdatasync");
            });
        for (auto& t : ts) t.join();
    }
    for (int i = 0; i < n; ++i) {
        ::close(fds[i]);
        publish(d, names[i]);
    }
    if (::fsync(d.queue_fd) != 0) die("fsync dir");
}

struct Result {
    double seconds = 0;
    std::vector<double> batch_ms;
};

Result run(const Dirs& d, int messages, int group, int par) {
    Result r;
    long seq = 0;
    const auto start = Clock::now();
    for (int done = 0; done < messages; done += group) {
        const auto t0 = Clock::now();
        batch(d, group, par, seq);
        r.batch_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return r;
}

// Leader/follower coalescing of the directory fsync: a caller needs an fsync
// that started after its rename; one fsync covers every rename before it.
struct DirSyncer {
    std::mutex mu;
    std::condition_variable cv;
    long renamed = 0;  // tickets handed out
    long synced = 0;   // every ticket <= synced is durable
    bool running = false;
    void sync_after_rename(int dir_fd, long ticket) {
        std::unique_lock lock(mu);
        while (synced < ticket) {
            if (running) {
                cv.wait(lock);
                continue;
            }
            running = true;
            const long covers = renamed;
            lock.unlock();
            if (::fsync(dir_fd) != 0) die("fsync dir");
            lock.lock();
            running = false;
            synced = std::max(synced, covers);
            cv.notify_all();
        }
    }
};

Result run_threads_coalesced(const Dirs& d, int messages, int threads) {
    Result r;
    DirSyncer syncer;
    std::vector<std::vector<double>> lat(threads);
    const auto start = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            long seq = 1000000L * (t + 1);
            for (int i = t; i < messages; i += threads) {
                const auto t0 = Clock::now();
                const std::string name = "c" + std::to_string(seq++);
                int fd = write_tmp(d, name);
                if (::fdatasync(fd) != 0) die("fdatasync");
                ::close(fd);
                long ticket;
                {
                    std::lock_guard lock(syncer.mu);
                    publish(d, name);
                    ticket = ++syncer.renamed;
                }
                syncer.sync_after_rename(d.queue_fd, ticket);
                lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            }
        });
    for (auto& t : ts) t.join();
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& l : lat) r.batch_ms.insert(r.batch_ms.end(), l.begin(), l.end());
    return r;
}

Result run_threads(const Dirs& d, int messages, int threads) {
    Result r;
    std::vector<std::vector<double>> lat(threads);
    const auto start = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&, t] {
            long seq = 1000000L * (t + 1);
            for (int i = t; i < messages; i += threads) {
                const auto t0 = Clock::now();
                batch(d, 1, 1, seq);
                lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            }
        });
    for (auto& t : ts) t.join();
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& l : lat) r.batch_ms.insert(r.batch_ms.end(), l.begin(), l.end());
    return r;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void report(const char* mode, int messages, const Result& r) {
    std::printf("%-13s %7d msgs %8.2f s %9.0f msg/s   latency p50 %7.2f ms  p99 %7.2f ms\n", mode, messages,
                r.seconds, messages / r.seconds, percentile(r.batch_ms, 0.5), percentile(r.batch_ms, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
    const std::string base = argc > 1 ? argv[1] : "/var/tmp";
    const int messages = argc > 2 ? std::atoi(argv[2]) : 2000;
    char tmpl[4096];
    std::snprintf(tmpl, sizeof tmpl, "%s/fsync-ceiling-XXXXXX", base.c_str());
    if (!::mkdtemp(tmpl)) die("mkdtemp");
    const std::string root = tmpl;
    Dirs d{root + "/tmp/", root + "/queue/"};
    std::filesystem::create_directories(d.tmp);
    std::filesystem::create_directories(d.queue);
    d.queue_fd = ::open(d.queue.c_str(), O_RDONLY | O_DIRECTORY);
    if (d.queue_fd < 0) die("open dir");

    std::printf("dir %s, 4 KiB per message, fdatasync + rename + dir fsync\n", root.c_str());
    if (std::getenv("THREADS_FIRST")) report("threads16", messages, run_threads(d, messages, 16));
    report("single", messages, run(d, messages, 1, 1));
    report("group16", messages, run(d, messages, 16, 1));
    report("group16par4", messages, run(d, messages, 16, 4));
    report("group16par16", messages, run(d, messages, 16, 16));
    report("group64par64", messages, run(d, messages, 64, 64));
    report("threads16", messages, run_threads(d, messages, 16));
    report("threads4", messages, run_threads(d, messages, 4));
    report("threads16co", messages, run_threads_coalesced(d, messages, 16));
    report("threads4co", messages, run_threads_coalesced(d, messages, 4));

    ::close(d.queue_fd);
    std::filesystem::remove_all(root);
    return 0;
}
