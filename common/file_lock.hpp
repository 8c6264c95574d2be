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
#include <utility>

#include "common/unique_fd.hpp"

namespace rp {

class FileLock {
  public:
    FileLock() = default;  // holds nothing; movable, not copyable (the descriptor is the lock)

    // Takes the lock on `path` (created 0644 when missing). On failure returns
    // an empty FileLock and sets `error` to a sentence for the operator, e.g.
    // "/var/spool/relaypool/lock is held by another process (pid 4242)".
    static FileLock acquire(const std::string& path, std::string& error);
    explicit operator bool() const { return bool(fd_); }

  private:
    explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;  // closing it releases the lock (an OFD lock belongs to the open file)
};

}  // namespace rp
