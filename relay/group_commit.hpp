// GroupCommitter: the spool's commit thread. It makes files durable in
// batches: every job pending when a batch starts is fsync'd (concurrently,
// on a few helper threads, so the filesystem can merge journal commits),
// renamed into place, and then ONE fsync of the destination directory covers
// the whole batch before any job's callback runs.
//
// Invariants: a callback with success runs only after its file's data and
// its directory entry are durable. On failure the committer cleans up: the
// tmp file is unlinked, and a message already renamed in a batch whose
// directory fsync failed is unlinked again (the client got no 250, so it
// must not be delivered; a crash in between can at worst duplicate it).
// Each callback runs exactly once, on the commit thread, in submission order.
// The destructor (or stop()) drains every submitted job, then joins.
// Used by FileSpool only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "relay/file_spool.hpp"

namespace rp::relay {

struct CommitJob {
    enum class Kind { message, state };
    Kind kind = Kind::message;
    int fd = -1;                   // the written tmp file; the committer closes it
    std::string tmp_path;          // in tmp/
    std::string final_path;        // in the committer's directory
    std::error_code preset_error;  // set: skip the I/O, report this (and clean up)
    std::function<void(std::error_code)> on_done;
};

class FsyncPool;

class GroupCommitter {
  public:
    // dir_fd: the destination directory (kept open by the caller, outlives this).
    GroupCommitter(int dir_fd, unsigned fsync_threads, std::shared_ptr<FaultInjector> faults);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // After stop(), the job fails at once with SpoolErrc::closed (callback
    // inline: only during shutdown).
    void submit(CommitJob job);
    void stop();

    std::uint64_t batches() const;

  private:
    void run();
    void process(std::vector<CommitJob>& batch);
    int fault(FaultPoint p, const std::string& path) const;

    int dir_fd_;
    std::shared_ptr<FaultInjector> faults_;
    std::unique_ptr<FsyncPool> pool_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<CommitJob> pending_;
    bool stopping_ = false;
    std::uint64_t batches_ = 0;
    std::thread thread_;
};

}  // namespace rp::relay
