// FileSpool's private parts, shared by its files: file_spool.cpp (open,
// index, queue operations), file_writer.cpp (intake), file_spool_load.cpp,
// file_spool_state.cpp, file_spool_recover.cpp (the start-up scan) and
// spool_io.cpp (POSIX helpers). Not for use outside spool/.
//
// Locking: `mu` guards the index, the listener and the id generator and is
// never held across I/O or a callback. State writes of one message are kept
// in order by the committer (same worker per final path).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include "common/file_lock.hpp"
#include "common/unique_fd.hpp"
#include "spool/background_worker.hpp"
#include "spool/file_spool.hpp"
#include "spool/group_commit.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {

struct SpoolEntry {
    MessageSummary summary;
    std::uint64_t header_size = 0;  // body offset; 0 = not validated yet (unreadable at recover())
};

// The outcome of checking one queue/<id> file: it could not be read (an OS
// error: not a verdict on the file), or it was read and is valid ("" reason)
// or invalid (the reason).
struct MessageCheck {
    int os_error = 0;
    std::string reason;
};

struct FileSpool::Impl {
    FileSpoolOptions options;
    std::string tmp_dir, queue_dir, quarantine_dir;  // each ends in '/'
    FileLock lock;                                   // <dir>/lock: this process owns the queue directory
    std::atomic<std::int64_t> space_checked_ms{0};   // storage_low(): last statvfs (steady ms)
    std::atomic<bool> space_low{false};
    UniqueFd queue_fd, quarantine_fd;
    std::unique_ptr<GroupCommitter> committer;
    // Two threads so the admin API's reads (a listing page of envelopes from
    // a cold disk) never queue in front of a delivery's load or unlink.
    std::unique_ptr<BackgroundWorker> delivery_io;  // load_async, remove_async, quarantine fsyncs
    std::unique_ptr<BackgroundWorker> admin_reads;  // post_admin_read

    mutable std::mutex mu;
    std::map<std::string, SpoolEntry> index;
    std::function<void(const MessageSummary&)> listener;
    bool recovered = false;
    std::uint64_t last_id = 0;

    std::atomic<std::uint64_t> tmp_seq{0};

    std::atomic<std::uint64_t> committed{0}, commit_errors{0}, state_writes{0}, state_write_errors{0},
        removed{0}, quarantined{0};

    ~Impl();

    int fault(FaultPoint p, const std::string& path) const {
        return options.faults ? options.faults->fail(p, path) : 0;
    }
    void count_error(std::string_view kind) const;  // the metric, when configured
    std::string message_path(const std::string& id) const { return queue_dir + id; }
    std::string state_path(const std::string& id) const { return queue_dir + id + ".state"; }
    std::string next_id();  // unique, increasing: max(now in µs, last + 1)
    std::string unique_tmp(std::string_view stem) {
        return tmp_dir + std::string(stem) + "." + std::to_string(++tmp_seq);
    }

    // Validates queue/<id> without reading its body (rules in docs/spool.md).
    MessageCheck validate_message(const std::string& id, format::MessageHeader& out) const;
    // Reads and decodes queue/<id>.state into `out` (valid, or invalid with
    // its reason: a file that is not a regular file is invalid); else the OS
    // error (ENOENT: no state file). Used by recover() and load().
    int read_state(const std::string& id, std::size_t n_rcpt, format::StateParse& out) const;
    // Moves queue/<name> to quarantine/ (never overwriting); 0 or errno.
    int move_to_quarantine(const std::string& name, std::string_view reason);
    // fsync of quarantine/ and queue/ after moves, on delivery_io.
    void sync_quarantine_later();
    // Fills the summary from an envelope and state.
    static MessageSummary make_summary(const std::string& id, const StoredEnvelope& env,
                                       const DeliveryState& st, std::uint64_t body_size);
    void record_commit(const std::string& id, SpoolEntry entry);
};

// POSIX helpers returning 0 or errno.
namespace spool_io {
int write_all(int fd, const char* data, std::size_t size);
int pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset);
int fsync_fd(int fd);
int fsync_path(const std::string& dir);  // opens, fsyncs and closes a directory
// Reads at most max bytes from offset (fewer at EOF).
int pread_some(int fd, std::string& out, std::size_t max, std::uint64_t offset);
// The whole file, at most `limit` bytes; kNotRegularFile for a symbolic
// link, FIFO, socket or directory (a verdict on the file, not an OS error).
constexpr int kNotRegularFile = -1;
int read_whole(const std::string& path, std::string& out, std::size_t limit);
std::error_code to_code(int err);
}  // namespace spool_io

}  // namespace rp::spool
