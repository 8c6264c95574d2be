// UniqueFd: the one owner of a POSIX file descriptor. Closes it exactly once
// (destructor, reset() or a move-assignment over it); release() hands it on
// to an owner that closes it itself (the spool's commit jobs). -1 = empty.
// close() errors are ignored here: where a failed close would matter (data
// written through the descriptor) the owner fsyncs before letting it go.
// Used by spool/ (files and directories it opens) and common/file_lock.
#pragma once

#include <unistd.h>

#include <utility>

namespace rp {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // The descriptor, no longer owned here.
    int release() noexcept { return std::exchange(fd_, -1); }
    void reset(int fd = -1) noexcept {
        const int old = std::exchange(fd_, fd);
        if (old >= 0) ::close(old);
    }

  private:
    int fd_ = -1;
};

}  // namespace rp
