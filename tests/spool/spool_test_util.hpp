// Helpers for the spool tests: a temporary directory under /tmp, a
// synchronous commit, a scripted fault injector. Test code only.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "spool/file_spool.hpp"

namespace spool_test {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/rp-spool-test-XXXXXX";
        const char* p = ::mkdtemp(tmpl);
        path = p ? p : "";
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

struct CommitResult {
    std::error_code error;
    std::string id;
    std::thread::id thread;
};

inline CommitResult commit_sync(rp::spool::SpoolWriter& w) {
    std::promise<CommitResult> p;
    auto f = p.get_future();
    w.commit([&p](std::error_code ec, std::string id) {
        p.set_value({ec, std::move(id), std::this_thread::get_id()});
    });
    return f.get();
}

inline std::error_code update_async_sync(rp::spool::Spool& s, const std::string& id,
                                         rp::spool::DeliveryState st) {
    std::promise<std::error_code> p;
    auto f = p.get_future();
    s.update_state_async(id, std::move(st), [&p](std::error_code ec) { p.set_value(ec); });
    return f.get();
}

inline std::unique_ptr<rp::spool::FileSpool> open_recovered(
    const std::string& dir, std::shared_ptr<rp::spool::FaultInjector> faults = {},
    rp::spool::RecoveryReport* report = nullptr) {
    auto r = rp::spool::FileSpool::open({.directory = dir, .commit_workers = 8, .faults = std::move(faults)});
    if (!r) return nullptr;
    auto rec = r.value->recover();
    if (!rec) return nullptr;
    if (report) *report = std::move(rec.value);
    return std::move(r.value);
}

inline rp::spool::EnvelopeSpec envelope(std::size_t n_rcpt = 1) {
    rp::spool::EnvelopeSpec e;
    e.mail_from = "app@example.com";
    for (std::size_t i = 0; i < n_rcpt; ++i)
        e.recipients.push_back({"r" + std::to_string(i) + "@example.net", "", ""});
    e.listener = "submission";
    e.client_addr = "192.0.2.1";
    e.helo = "client";
    e.auth_user = "billing-app";
    return e;
}

// Commits one message with the given bytes; "" id on failure.
inline std::string put(rp::spool::SpoolIntake& spool, const std::string& body, std::size_t n_rcpt = 1) {
    auto w = spool.begin(envelope(n_rcpt));
    if (!w || !w->append(body)) return {};
    auto r = commit_sync(*w);
    return r.error ? std::string() : r.id;
}

inline std::size_t count_entries(const std::string& dir) {
    std::size_t n = 0;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") ++n;
        ::closedir(d);
    }
    return n;
}

inline std::size_t open_fds() {
    return count_entries("/proc/self/fd");
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

// Fails a given fault point with an errno, `times` times (-1 = forever).
class ScriptedFaults final : public rp::spool::FaultInjector {
  public:
    void arm(rp::spool::FaultPoint p, int err, int times = -1) {
        std::lock_guard lock(mu_);
        armed_[p] = {err, times};
    }
    void clear() {
        std::lock_guard lock(mu_);
        armed_.clear();
    }
    int fail(rp::spool::FaultPoint p, std::string_view) override {
        std::lock_guard lock(mu_);
        auto it = armed_.find(p);
        if (it == armed_.end() || it->second.second == 0) return 0;
        if (it->second.second > 0) --it->second.second;
        return it->second.first;
    }

  private:
    std::mutex mu_;
    std::map<rp::spool::FaultPoint, std::pair<int, int>> armed_;
};

}  // namespace spool_test
