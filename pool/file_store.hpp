// FileStore: pool.state on disk. An append-only journal of sealed lines
// (pool/state_file.hpp) that is periodically replaced by a snapshot.
//
// Cost per send: one ~60-byte line and a share of one fdatasync. A writer
// thread takes every append queued while the previous fdatasync ran and
// writes them with one write() + one fdatasync(), so concurrent sends share
// the sync (group commit). A snapshot is written to <path>.tmp, fdatasync'd,
// renamed over <path> and the directory fsync'd: a crash leaves either the
// old file or the new one.
// Failures: a failed or short append is cut back (ftruncate) to the last
// good length so no torn line sits between intact ones; if even that fails,
// appends fail until the next successful replace().
// One process per file: <path>.lock is held (common/file_lock.hpp) from
// open() to destruction.
// Used by relay/ (through pool::Store) and the pool tests.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/file_lock.hpp"
#include "pool/store.hpp"

namespace rp::pool {

class FileStore final : public Store {
  public:
    // Creates the parent directory when missing, takes the lock and opens
    // the file for appending. nullptr with `error` set on failure.
    static std::unique_ptr<FileStore> open(const std::string& path, std::string& error);
    ~FileStore() override;

    std::error_code load(Loaded& out) override;
    void append(std::string lines, Done done) override;
    void replace(std::string snapshot, Done done) override;
    std::error_code set_aside(std::string& moved_to) override;
    std::string describe() const override { return path_; }

    std::uint64_t fsyncs() const;  // for tests and benchmarks

  private:
    struct Job {
        bool replace = false;
        std::string bytes;
        Done done;
    };
    FileStore(std::string path, int fd, FileLock lock);
    void run();
    std::error_code write_appends(const std::string& bytes);
    std::error_code write_snapshot(const std::string& bytes);

    const std::string path_;
    int fd_;
    FileLock lock_;
    off_t good_size_ = 0;   // the file's length after the last durable write
    bool damaged_ = false;  // a failed append could not be cut back
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    bool stopping_ = false;
    std::uint64_t fsyncs_ = 0;
    std::thread writer_;
};

}  // namespace rp::pool
