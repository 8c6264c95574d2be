// BackgroundWorker (see background_worker.hpp): a queue and one thread.
#include "spool/background_worker.hpp"

#include <utility>

namespace rp::spool {

BackgroundWorker::BackgroundWorker() : thread_([this] { run(); }) {}

BackgroundWorker::~BackgroundWorker() {
    stop();
}

void BackgroundWorker::post(std::function<void()> job) {
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            jobs_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    job();  // stopped: the caller still gets its answer
}

void BackgroundWorker::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

void BackgroundWorker::run() {
    while (true) {
        std::function<void()> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping and drained
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        job();
    }
}

}  // namespace rp::spool
