// FileStore: the pool.state journal and snapshots on disk (see file_store.hpp).
#include "pool/file_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace rp::pool {

namespace {

std::error_code last_error() {
    return {errno, std::system_category()};
}

std::error_code write_all(int fd, const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        done += static_cast<std::size_t>(n);
    }
    return {};
}

std::error_code fsync_dir_of(const std::string& path) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return last_error();
    std::error_code ec;
    if (::fsync(fd) != 0) ec = last_error();
    ::close(fd);
    return ec;
}

}  // namespace

std::unique_ptr<FileStore> FileStore::open(const std::string& path, std::string& error) {
    const auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
        error = "cannot create " + parent.string() + ": " + ec.message();
        return nullptr;
    }
    FileLock lock = FileLock::acquire(path + ".lock", error);
    if (!lock) return nullptr;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        error = "cannot open " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    return std::unique_ptr<FileStore>(new FileStore(path, fd, std::move(lock)));
}

FileStore::FileStore(std::string path, int fd, FileLock lock)
    : path_(std::move(path)), fd_(fd), lock_(std::move(lock)) {
    struct stat st {};
    if (::fstat(fd_, &st) == 0) good_size_ = st.st_size;
    writer_ = std::thread([this] { run(); });
}

FileStore::~FileStore() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    writer_.join();
    ::close(fd_);
}

std::error_code FileStore::load(Loaded& out) {
    std::lock_guard lock(mutex_);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return last_error();
    out.last_write = WallTime{std::chrono::seconds(st.st_mtim.tv_sec)};
    out.text.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.text.size()) {
        const ssize_t n = ::pread(fd_, out.text.data() + got, out.text.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return last_error();
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    out.text.resize(got);
    good_size_ = static_cast<off_t>(got);
    return {};
}

void FileStore::append(std::string lines, Done done) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(Job{false, std::move(lines), std::move(done)});
    }
    wake_.notify_one();
}

void FileStore::replace(std::string snapshot, Done done) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(Job{true, std::move(snapshot), std::move(done)});
    }
    wake_.notify_one();
}

std::error_code FileStore::set_aside(std::string& moved_to) {
    std::lock_guard lock(mutex_);
    moved_to = path_ + ".unreadable-" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
    if (::rename(path_.c_str(), moved_to.c_str()) != 0) return last_error();
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return last_error();
    ::close(fd_);
    fd_ = fd;
    good_size_ = 0;
    return fsync_dir_of(path_);
}

std::uint64_t FileStore::fsyncs() const {
    std::lock_guard lock(mutex_);
    return fsyncs_;
}

std::error_code FileStore::write_appends(const std::string& bytes) {
    // A cut-back that failed (below) is tried again: the disk may be back.
    if (damaged_) {
        if (::ftruncate(fd_, good_size_) != 0 || ::fdatasync(fd_) != 0) return last_error();
        damaged_ = false;
    }
    if (bytes.empty()) return {};  // an ordering point only (see PoolKeeper::durable)
    std::error_code ec = write_all(fd_, bytes);
    if (!ec && ::fdatasync(fd_) != 0) ec = last_error();
    if (!ec) {
        good_size_ += static_cast<off_t>(bytes.size());
        return {};
    }
    // Cut back whatever part of the batch reached the file, so no torn line
    // ends up between intact ones.
    if (::ftruncate(fd_, good_size_) != 0 || ::fdatasync(fd_) != 0) damaged_ = true;
    return ec;
}

std::error_code FileStore::write_snapshot(const std::string& bytes) {
    const std::string tmp = path_ + ".tmp";
    // Opened for the appends that follow: after the rename it is the file,
    // and no second open (which could fail, EMFILE) is needed to switch to
    // it; a failed reopen left appends going to the replaced inode.
    const int fd = ::open(tmp.c_str(), O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return last_error();
    std::error_code ec = write_all(fd, bytes);
    if (!ec && ::fdatasync(fd) != 0) ec = last_error();
    if (!ec && ::rename(tmp.c_str(), path_.c_str()) != 0) ec = last_error();
    if (ec) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return ec;
    }
    ::close(fd_);
    fd_ = fd;
    good_size_ = static_cast<off_t>(bytes.size());
    damaged_ = false;
    return fsync_dir_of(path_);
}

void FileStore::run() {
    for (;;) {
        std::deque<Job> batch;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, nothing left
            batch.swap(jobs_);
        }
        // Consecutive appends share one write + fdatasync; a replace stands alone.
        std::size_t i = 0;
        while (i < batch.size()) {
            std::error_code ec;
            std::size_t end = i + 1;
            if (batch[i].replace) {
                ec = write_snapshot(batch[i].bytes);
            } else {
                std::string bytes = std::move(batch[i].bytes);
                while (end < batch.size() && !batch[end].replace) bytes += batch[end++].bytes;
                ec = write_appends(bytes);
            }
            {
                std::lock_guard lock(mutex_);
                ++fsyncs_;
            }
            for (; i < end; ++i)
                if (batch[i].done) batch[i].done(ec);
        }
    }
}

}  // namespace rp::pool
