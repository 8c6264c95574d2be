// GroupCommitter: the spool's commit workers. A job is a written tmp file
// (a message, or a state file) to make durable under its final name:
// fdatasync, rename into the queue directory, fsync of the directory.
//
// How commits are grouped (measured with bench/fsync_ceiling.cpp, figures in
// docs/spool.md): a few workers take jobs concurrently and without a batch
// barrier, so the filesystem journal folds the concurrent fdatasyncs into
// shared commits; and the directory fsync is coalesced leader/follower style:
// one fsync covers every rename made before it started, so N concurrent
// commits cost about one directory fsync. A barrier batch (sync 16, then one
// directory fsync) measured 10x slower on ext4, so there is none.
//
// Invariants: a job's callback reports success only after its file's data
// and its directory entry are durable (an fsync of the directory that began
// after the rename succeeded). On failure the committer cleans up: the tmp
// file is unlinked, and a message renamed into the queue whose directory
// fsync failed is unlinked again (the client got no 250, so it must not be
// delivered; a crash in between can at worst duplicate it).
// Each callback runs exactly once, on a worker thread. Jobs with the same
// final path (state files of one message) run in submission order on one
// worker. stop() (and the destructor) drain every submitted job, then join.
// Used by FileSpool only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "spool/file_spool.hpp"

namespace rp::spool {

struct CommitJob {
    enum class Kind { message, state, dir_sync };  // dir_sync: no file, just the directory fsync
    Kind kind = Kind::message;
    UniqueFd fd;                   // the written tmp file (closed by the committer after its fsync)
    std::string tmp_path;          // in tmp/
    std::string final_path;        // in the committer's directory
    std::error_code preset_error;  // set: skip the I/O, report this (and clean up)
    std::function<void(std::error_code)> on_done;
};

// Coalesces directory fsyncs: sync_after_change(), called right after a
// rename/unlink in the directory, returns once an fsync that started after
// that call has completed (success) or failed (its error).
class DirSyncer {
  public:
    DirSyncer(int dir_fd, std::shared_ptr<FaultInjector> faults);
    std::error_code sync_after_change();
    std::uint64_t fsyncs() const;

  private:
    std::error_code wait_for(std::uint64_t ticket, std::unique_lock<std::mutex>& lock);

    struct Failure {
        std::uint64_t from, to;  // tickets (from, to] whose fsync failed
        int error;
    };
    int dir_fd_;
    std::shared_ptr<FaultInjector> faults_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::uint64_t issued_ = 0, synced_ = 0, fsyncs_ = 0;
    bool running_ = false;
    std::deque<Failure> failures_;          // oldest first; pruned once no waiter needs them
    std::multiset<std::uint64_t> waiting_;  // tickets of callers inside sync()
};

class GroupCommitter {
  public:
    // dir_fd: the destination directory (kept open by the caller, outlives this).
    GroupCommitter(int dir_fd, unsigned workers, std::shared_ptr<FaultInjector> faults);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // After stop(), the job fails at once with SpoolErrc::closed (callback
    // inline: only during shutdown).
    void submit(CommitJob job);
    void stop();

    std::uint64_t dir_fsyncs() const { return syncer_.fsyncs(); }
    // True inside a worker (in a callback): blocking on a job there could
    // deadlock (the job may be queued behind the caller).
    static bool on_worker_thread();
    // For other directory changes (unlink, rename out): durable when this
    // returns success; shares fsyncs with concurrent commits.
    std::error_code sync_dir_change() { return syncer_.sync_after_change(); }
    // The same without waiting (a failure is logged by the syncer).
    void sync_dir_later();

  private:
    struct Worker {
        std::condition_variable cv;  // guarded by the committer's mu_
        std::deque<CommitJob> jobs;
        std::thread thread;
    };
    void run(std::size_t w);
    void process(CommitJob& job);
    int fault(FaultPoint p, const std::string& path) const;

    std::shared_ptr<FaultInjector> faults_;
    DirSyncer syncer_;
    std::mutex mu_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::size_t next_worker_ = 0;
    bool stopping_ = false;
};

}  // namespace rp::spool
