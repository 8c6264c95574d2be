// The commit workers and the directory-fsync coalescer (see group_commit.hpp
// for why there is no batch barrier: bench/fsync_ceiling.cpp measured it).
#include "spool/group_commit.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "common/log.hpp"

namespace rp::spool {
namespace {

std::error_code errno_code(int e) {
    return {e, std::system_category()};
}

thread_local bool on_worker = false;  // set in commit worker threads

// rename that refuses to replace an existing message (an id collision must
// never overwrite an accepted message).
int rename_noreplace(const std::string& from, const std::string& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return errno;
    // Filesystem without RENAME_NOREPLACE: link + unlink gives the same guarantee.
    if (::link(from.c_str(), to.c_str()) != 0) return errno;
    ::unlink(from.c_str());
    return 0;
}

}  // namespace

// ---- DirSyncer ----------------------------------------------------------------
DirSyncer::DirSyncer(int dir_fd, std::shared_ptr<FaultInjector> faults)
    : dir_fd_(dir_fd), faults_(std::move(faults)) {}

std::uint64_t DirSyncer::fsyncs() const {
    std::lock_guard lock(mu_);
    return fsyncs_;
}

std::error_code DirSyncer::sync_after_change() {
    std::unique_lock lock(mu_);
    const std::uint64_t ticket = ++issued_;  // this change happened before any fsync starting from now
    waiting_.insert(ticket);
    auto result = wait_for(ticket, lock);
    waiting_.erase(waiting_.find(ticket));
    // Failure records are kept until no waiter can still need them.
    while (!failures_.empty() && (waiting_.empty() || failures_.front().to < *waiting_.begin()))
        failures_.pop_front();
    return result;
}

std::error_code DirSyncer::wait_for(std::uint64_t ticket, std::unique_lock<std::mutex>& lock) {
    for (;;) {
        // A failed fsync that covered this rename fails it, even if a later
        // fsync succeeded (after a failed fsync the kernel may have dropped
        // the dirty state: never trust a retry for the same change).
        for (const auto& f : failures_)
            if (ticket > f.from && ticket <= f.to) return errno_code(f.error);
        if (synced_ >= ticket) return {};
        if (running_) {
            cv_.wait(lock);
            continue;
        }
        running_ = true;
        const std::uint64_t from = synced_, covers = issued_;
        lock.unlock();
        int e = faults_ ? faults_->fail(FaultPoint::fsync_dir, "queue/") : 0;
        if (e == 0 && ::fsync(dir_fd_) != 0) e = errno;
        lock.lock();
        running_ = false;
        ++fsyncs_;
        if (e != 0) {
            failures_.push_back({from, covers, e});
            log::error("spool", "queue directory fsync failed; commits not acknowledged",
                       {{"error", std::strerror(e)}});
        }
        synced_ = std::max(synced_, covers);
        cv_.notify_all();
    }
}

// ---- GroupCommitter -------------------------------------------------------------
GroupCommitter::GroupCommitter(int dir_fd, unsigned workers, std::shared_ptr<FaultInjector> faults)
    : faults_(faults), syncer_(dir_fd, faults) {
    const unsigned n = workers == 0 ? 1 : workers;
    for (unsigned i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
    for (unsigned i = 0; i < n; ++i) workers_[i]->thread = std::thread([this, i] { run(i); });
}

GroupCommitter::~GroupCommitter() {
    stop();
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        for (auto& w : workers_) w->cv.notify_all();
    }
    for (auto& w : workers_)
        if (w->thread.joinable()) w->thread.join();
}

void GroupCommitter::submit(CommitJob job) {
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            // Same final path -> same worker, so a message's state writes stay
            // in order; new messages go round-robin.
            std::size_t w = job.kind == CommitJob::Kind::state
                                ? std::hash<std::string>{}(job.final_path) % workers_.size()
                                : next_worker_++ % workers_.size();
            workers_[w]->jobs.push_back(std::move(job));
            workers_[w]->cv.notify_one();
            return;
        }
    }
    job.preset_error = make_error_code(SpoolErrc::closed);
    process(job);
}

void GroupCommitter::sync_dir_later() {
    CommitJob job;
    job.kind = CommitJob::Kind::dir_sync;
    submit(std::move(job));
}

int GroupCommitter::fault(FaultPoint p, const std::string& path) const {
    return faults_ ? faults_->fail(p, path) : 0;
}

bool GroupCommitter::on_worker_thread() {
    return on_worker;
}

void GroupCommitter::run(std::size_t w) {
    on_worker = true;
    Worker& me = *workers_[w];
    for (;;) {
        CommitJob job;
        {
            std::unique_lock lock(mu_);
            me.cv.wait(lock, [&] { return stopping_ || !me.jobs.empty(); });
            if (me.jobs.empty()) return;  // stopping and drained
            job = std::move(me.jobs.front());
            me.jobs.pop_front();
        }
        process(job);
    }
}

void GroupCommitter::process(CommitJob& job) {
    if (job.kind == CommitJob::Kind::dir_sync) {
        auto ec = job.preset_error ? job.preset_error : syncer_.sync_after_change();
        if (job.on_done) job.on_done(ec);
        return;
    }
    const bool msg = job.kind == CommitJob::Kind::message;
    std::error_code result = job.preset_error;
    // 1. Data.
    if (!result) {
        int e = fault(msg ? FaultPoint::fsync_message : FaultPoint::fsync_state, job.tmp_path);
        if (e == 0 && ::fdatasync(job.fd.get()) != 0) e = errno;
        if (e != 0) result = errno_code(e);
    }
    job.fd.reset();
    // 2. Name.
    if (!result) {
        int e = fault(msg ? FaultPoint::rename_message : FaultPoint::rename_state, job.final_path);
        if (e == 0) {
            if (msg)
                e = rename_noreplace(job.tmp_path, job.final_path);
            else if (::rename(job.tmp_path.c_str(), job.final_path.c_str()) != 0)
                e = errno;
        }
        if (e != 0) result = errno_code(e);
    }
    if (result) {
        ::unlink(job.tmp_path.c_str());
    } else {
        // 3. The directory entry, sharing an fsync with concurrent commits.
        result = syncer_.sync_after_change();
        // Unacknowledged message: take it back out. A state file stays (old
        // or new, both valid states; the caller sees the error).
        if (result && msg) ::unlink(job.final_path.c_str());
    }
    if (job.on_done) job.on_done(result);
}

}  // namespace rp::spool
