// FileLock (see file_lock.hpp).
#include "common/file_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace rp {

FileLock::~FileLock() {
    if (fd_ >= 0) ::close(fd_);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

FileLock FileLock::acquire(const std::string& path, std::string& error) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = "cannot open lock file " + path + ": " + std::strerror(errno);
        return {};
    }
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &lk) != 0) {
        const int err = errno;
        struct flock holder {};
        holder.l_type = F_WRLCK;
        holder.l_whence = SEEK_SET;
        std::string who = "another process";
        if (::fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK)
            who += " (pid " + std::to_string(holder.l_pid) + ")";
        ::close(fd);
        error = (err == EACCES || err == EAGAIN) ? path + " is held by " + who + ": another relaypool uses it"
                                                 : "cannot lock " + path + ": " + std::strerror(err);
        return {};
    }
    // The pid in the file is for people (`cat lock`); the lock is what counts.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // Not fatal: the lock is held; only the informative pid is missing.
    }
    return FileLock(fd);
}

}  // namespace rp
