// The commit thread and its fsync helpers (see group_commit.hpp). Why a few
// threads: fdatasync of N files issued one after another costs N journal
// commits; issued concurrently, ext4/xfs fold them into fewer (measured in
// bench/fsync_ceiling.cpp, figures in docs/spool.md).
#include "relay/group_commit.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.hpp"

namespace rp::relay {

// Runs fn(0..n-1) on the caller and up to `threads - 1` helpers; returns when
// all are done. Only the commit thread calls run().
class FsyncPool {
  public:
    explicit FsyncPool(unsigned threads) {
        for (unsigned i = 1; i < threads; ++i) helpers_.emplace_back([this] { helper(); });
    }
    ~FsyncPool() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : helpers_) t.join();
    }

    void run(std::size_t n, const std::function<void(std::size_t)>& fn) {
        if (n <= 1 || helpers_.empty()) {
            for (std::size_t i = 0; i < n; ++i) fn(i);
            return;
        }
        {
            std::lock_guard lock(mu_);
            fn_ = &fn;
            n_ = n;
            next_ = 0;
            remaining_ = n;
            ++generation_;
        }
        cv_.notify_all();
        work();
        std::unique_lock lock(mu_);
        done_cv_.wait(lock, [this] { return remaining_ == 0; });
        fn_ = nullptr;
    }

  private:
    // Takes indexes until none are left (under the mutex: the tasks are
    // fsyncs, so the lock costs nothing that matters, and no state is racy).
    void work() {
        for (;;) {
            const std::function<void(std::size_t)>* fn = nullptr;
            std::size_t i = 0;
            {
                std::lock_guard lock(mu_);
                if (fn_ == nullptr || next_ >= n_) return;
                fn = fn_;
                i = next_++;
            }
            (*fn)(i);
            std::lock_guard lock(mu_);
            if (--remaining_ == 0) done_cv_.notify_all();
        }
    }
    void helper() {
        std::uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
            }
            work();
        }
    }

    std::vector<std::thread> helpers_;
    std::mutex mu_;
    std::condition_variable cv_, done_cv_;
    const std::function<void(std::size_t)>* fn_ = nullptr;
    std::size_t n_ = 0;
    std::size_t next_ = 0;
    std::size_t remaining_ = 0;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
};

namespace {

std::error_code errno_code(int e) {
    return {e, std::system_category()};
}

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

GroupCommitter::GroupCommitter(int dir_fd, unsigned fsync_threads, std::shared_ptr<FaultInjector> faults)
    : dir_fd_(dir_fd),
      faults_(std::move(faults)),
      pool_(std::make_unique<FsyncPool>(fsync_threads == 0 ? 1 : fsync_threads)),
      thread_([this] { run(); }) {}

GroupCommitter::~GroupCommitter() {
    stop();
}

void GroupCommitter::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::uint64_t GroupCommitter::batches() const {
    std::lock_guard lock(mu_);
    return batches_;
}

void GroupCommitter::submit(CommitJob job) {
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            pending_.push_back(std::move(job));
            cv_.notify_one();
            return;
        }
    }
    job.preset_error = make_error_code(SpoolErrc::closed);
    std::vector<CommitJob> one;
    one.push_back(std::move(job));
    process(one);
}

int GroupCommitter::fault(FaultPoint p, const std::string& path) const {
    return faults_ ? faults_->fail(p, path) : 0;
}

void GroupCommitter::run() {
    for (;;) {
        std::vector<CommitJob> batch;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
            if (pending_.empty()) return;  // stopping and drained
            batch.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()));
            pending_.clear();
            ++batches_;
        }
        process(batch);
    }
}

void GroupCommitter::process(std::vector<CommitJob>& batch) {
    std::vector<std::error_code> result(batch.size());
    // 1. Data: fdatasync every file, concurrently.
    pool_->run(batch.size(), [&](std::size_t i) {
        auto& job = batch[i];
        if (job.preset_error) {
            result[i] = job.preset_error;
        } else {
            const bool msg = job.kind == CommitJob::Kind::message;
            int e = fault(msg ? FaultPoint::fsync_message : FaultPoint::fsync_state, job.tmp_path);
            if (e == 0 && ::fdatasync(job.fd) != 0) e = errno;
            if (e != 0) result[i] = errno_code(e);
        }
        if (job.fd >= 0) ::close(job.fd);
        job.fd = -1;
    });
    // 2. Names: rename into place, in submission order (a later state write
    // of the same message wins).
    std::vector<std::size_t> renamed;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto& job = batch[i];
        if (!result[i]) {
            const bool msg = job.kind == CommitJob::Kind::message;
            int e = fault(msg ? FaultPoint::rename_message : FaultPoint::rename_state, job.final_path);
            if (e == 0) {
                if (msg)
                    e = rename_noreplace(job.tmp_path, job.final_path);
                else if (::rename(job.tmp_path.c_str(), job.final_path.c_str()) != 0)
                    e = errno;
            }
            if (e != 0) result[i] = errno_code(e);
        }
        if (result[i])
            ::unlink(job.tmp_path.c_str());
        else
            renamed.push_back(i);
    }
    // 3. One directory fsync for the whole batch.
    if (!renamed.empty()) {
        int e = fault(FaultPoint::fsync_dir, "queue/");
        if (e == 0 && ::fsync(dir_fd_) != 0) e = errno;
        if (e != 0) {
            log::error("spool", "queue directory fsync failed; batch not acknowledged",
                       {{"error", std::strerror(e)}});
            for (std::size_t i : renamed) {
                result[i] = errno_code(e);
                // Unacknowledged message: take it back out. A state file stays
                // (old or new, both valid states; the caller sees the error).
                if (batch[i].kind == CommitJob::Kind::message) ::unlink(batch[i].final_path.c_str());
            }
        }
    }
    // 4. Tell everyone, in order.
    for (std::size_t i = 0; i < batch.size(); ++i)
        if (batch[i].on_done) batch[i].on_done(result[i]);
}

}  // namespace rp::relay
