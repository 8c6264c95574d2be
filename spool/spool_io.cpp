// The spool's POSIX helpers (declared in file_spool_impl.hpp, namespace
// spool_io): whole writes and reads that retry EINTR and return 0 or errno,
// never throw. Descriptors opened here are owned by a UniqueFd.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/unique_fd.hpp"
#include "spool/file_spool_impl.hpp"

namespace rp::spool::spool_io {

int write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return 0;
}

int pwrite_all(int fd, const char* data, std::size_t size, std::uint64_t offset) {
    while (size > 0) {
        ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
    return 0;
}

int fsync_fd(int fd) {
    return ::fsync(fd) == 0 ? 0 : errno;
}

int fsync_path(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return fd ? fsync_fd(fd.get()) : errno;
}

int pread_some(int fd, std::string& out, std::size_t max, std::uint64_t offset) {
    out.resize(max);
    std::size_t got = 0;
    while (got < max) {
        ssize_t n = ::pread(fd, out.data() + got, max - got, static_cast<off_t>(offset + got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return 0;
}

// Reads a small file (a state file, a header) at its own size, never more
// than `limit`: sizing the buffer to the limit (16 MiB) zeroed that much per
// read and made recovery of a big backlog take minutes.
// O_NONBLOCK: a FIFO put in the queue would block the open (and the thread
// doing it) until a writer came; on a regular file it changes nothing.
int read_whole(const std::string& path, std::string& out, std::size_t limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return errno == ELOOP || errno == ENXIO ? kNotRegularFile : errno;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return kNotRegularFile;
    return pread_some(fd.get(), out, std::min<std::size_t>(limit, static_cast<std::size_t>(st.st_size)), 0);
}

std::error_code to_code(int err) {
    return {err, std::system_category()};
}

}  // namespace rp::spool::spool_io
