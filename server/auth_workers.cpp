// Password verification threads (see auth_workers.hpp).
#include "server/auth_workers.hpp"

#include <openssl/crypto.h>

#include "server/password.hpp"

namespace rp::server {
namespace {

// A real hash of a random string, made once: verifying an unknown user's
// password against it costs what a known user's does.
const std::string& decoy_hash() {
    static const std::string hash = hash_password("relaypool decoy password").value_or("");
    return hash;
}

}  // namespace

AuthWorkers::AuthWorkers(unsigned threads, std::size_t max_queued) : max_queued_(max_queued) {
    if (threads == 0) threads = 1;
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

AuthWorkers::~AuthWorkers() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
}

bool AuthWorkers::submit(std::string password, std::string hash, std::function<void(bool)> done) {
    bool accepted = false;
    {
        std::lock_guard lock(mutex_);
        if (jobs_.size() < max_queued_) {
            jobs_.push_back(Job{std::move(password), std::move(hash), std::move(done)});
            accepted = true;
        }
    }
    if (!accepted) {
        OPENSSL_cleanse(password.data(), password.size());
        return false;
    }
    wake_.notify_one();
    return true;
}

void AuthWorkers::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping and drained
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        bool ok = false;
        if (job.hash.empty()) {
            verify_password(job.password, decoy_hash());
        } else {
            ok = verify_password(job.password, job.hash);
        }
        OPENSSL_cleanse(job.password.data(), job.password.size());
        job.done(ok);
    }
}

}  // namespace rp::server
