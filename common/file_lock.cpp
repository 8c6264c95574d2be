// FileLock (see file_lock.hpp).
#include "common/file_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace rp {

FileLock FileLock::acquire(const std::string& path, std::string& error) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) {
        error = "cannot open lock file " + path + ": " + std::strerror(errno);
        return {};
    }
    struct flock lk {};
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (::fcntl(fd.get(), F_OFD_SETLK, &lk) != 0) {
        const int err = errno;
        std::string who = "another process";
        char buf[32] = {};
        const ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
        std::string pid(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
        while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
        if (!pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos)
            who += " (pid " + pid + ")";
        error = (err == EACCES || err == EAGAIN) ? path + " is held by " + who + ": another relaypool uses it"
                                                 : "cannot lock " + path + ": " + std::strerror(err);
        return {};
    }
    // The pid in the file is for people (`cat lock`) and for the refusal
    // message of a second instance; the lock itself is what counts.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0 && ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
        // Not fatal: the lock is held; only the informative pid is missing.
    }
    return FileLock(std::move(fd));
}

}  // namespace rp
