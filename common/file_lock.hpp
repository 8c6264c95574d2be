// FileLock: "one process owns this" for a queue directory or a pool.state
// file. An exclusive open-file-description lock (fcntl F_OFD_SETLK) on a lock
// file that holds the owner's pid. The kernel releases it when the process
// dies (kill -9 included), so a stale lock file never blocks a restart; unlike
// classic POSIX locks it conflicts within one process too and is not dropped
// when some other descriptor of the file is closed. A refused lock names the
// holder (the pid written in the file).
// The lock lives as long as the FileLock object. Used by spool/ and pool/.
#pragma once

#include <string>

namespace rp {

class FileLock {
  public:
    FileLock() = default;
    ~FileLock();
    FileLock(FileLock&& other) noexcept;
    FileLock& operator=(FileLock&& other) noexcept;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

    // Takes the lock on `path` (created 0644 when missing). On failure returns
    // an empty FileLock and sets `error` to a sentence for the operator, e.g.
    // "/var/spool/relaypool/lock is held by another process (pid 4242)".
    static FileLock acquire(const std::string& path, std::string& error);
    explicit operator bool() const { return fd_ >= 0; }

  private:
    explicit FileLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace rp
