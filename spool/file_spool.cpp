// FileSpool: opening, intake (the writer), and the queue operations. The
// start-up scan is in file_spool_recover.cpp; the on-disk format in
// spool_format.*; the batching of fsyncs in group_commit.*.
#include "spool/file_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {

// ---- POSIX helpers -----------------------------------------------------------
namespace spool_io {

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
int read_whole(const std::string& path, std::string& out, std::size_t limit) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return e;
    }
    int e = pread_some(fd, out, std::min<std::size_t>(limit, static_cast<std::size_t>(st.st_size)), 0);
    ::close(fd);
    return e;
}

std::error_code to_code(int err) {
    return {err, std::system_category()};
}

}  // namespace spool_io

using namespace spool_io;

// ---- Impl ------------------------------------------------------------------------
FileSpool::Impl::~Impl() {
    if (committer) committer->stop();  // drain: every pending commit gets its answer
    committer.reset();
    if (queue_fd >= 0) ::close(queue_fd);
    if (quarantine_fd >= 0) ::close(quarantine_fd);
}

void FileSpool::Impl::count_error(std::string_view kind) const {
    if (options.metrics) options.metrics->spool_error(kind);
}

std::string FileSpool::Impl::next_id() {
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::lock_guard lock(mu);
    last_id = std::max<std::uint64_t>(static_cast<std::uint64_t>(now), last_id + 1);
    return format::id_from_number(last_id);
}

MessageSummary FileSpool::Impl::make_summary(const std::string& id, const StoredEnvelope& env,
                                             const DeliveryState& st, std::uint64_t body_size) {
    MessageSummary s;
    s.id = id;
    s.arrival = env.arrival;
    s.state = st.state;
    s.attempts = st.attempts;
    s.next_attempt = st.next_attempt;
    s.body_size = body_size;
    s.recipients_total = static_cast<std::uint32_t>(st.recipients.size());
    for (const auto& r : st.recipients)
        if (r.status == RecipientStatus::pending) ++s.recipients_pending;
    return s;
}

void FileSpool::Impl::record_commit(const std::string& id, SpoolEntry entry) {
    std::function<void(const MessageSummary&)> l;
    {
        std::lock_guard lock(mu);
        l = listener;
        index[id] = entry;
    }
    ++committed;
    if (l) l(entry.summary);
}

int FileSpool::Impl::move_to_quarantine(const std::string& name, std::string_view reason) {
    std::string target = quarantine_dir + name;
    for (int n = 1; ::access(target.c_str(), F_OK) == 0; ++n)
        target = quarantine_dir + name + "." + std::to_string(n);
    if (::rename((queue_dir + name).c_str(), target.c_str()) != 0) {
        int e = errno;
        log::error("spool", "cannot quarantine file", {{"file", name}, {"error", std::strerror(e)}});
        return e;
    }
    ++quarantined;
    count_error("quarantined");
    log::warn("spool", "quarantined", {{"file", name}, {"to", target}, {"reason", reason}});
    return 0;
}

// ---- the writer ----------------------------------------------------------------------
namespace {

// Small appends (a line at a time) are gathered into one write. Allocated on
// first use: thousands of sessions in DATA must stay cheap.
constexpr std::size_t write_buffer_size = 32 * 1024;

class FileWriter final : public SpoolWriter {
  public:
    FileWriter(FileSpool::Impl& spool, std::string id, int fd, std::string tmp_path,
               format::EncodedHeader header, StoredEnvelope envelope)
        : spool_(spool),
          id_(std::move(id)),
          fd_(fd),
          tmp_path_(std::move(tmp_path)),
          header_size_(header.bytes.size()),
          length_offset_(header.length_offset),
          envelope_(std::move(envelope)) {}
    ~FileWriter() override { abort(); }

    bool append(std::string_view bytes) override {
        if (error_ != 0 || fd_ < 0) return false;
        size_ += bytes.size();
        if (buffer_.size() + bytes.size() > write_buffer_size && !flush()) return false;
        if (bytes.size() >= write_buffer_size) return write(bytes);
        buffer_.append(bytes);
        return true;
    }

    std::uint64_t size() const override { return size_; }

    void commit(std::function<void(std::error_code, std::string)> done) override {
        CommitJob job;
        job.kind = CommitJob::Kind::message;
        job.tmp_path = tmp_path_;
        job.final_path = spool_.message_path(id_);
        if (fd_ < 0) {
            job.preset_error = make_error_code(SpoolErrc::closed);  // committed/aborted twice: a bug
        } else if (error_ == 0 && flush()) {
            const std::string len = format::encode_body_length(size_);
            error_ = pwrite_all(fd_, len.data(), len.size(), length_offset_);
        }
        if (!job.preset_error && error_ != 0) job.preset_error = to_code(error_);
        job.fd = fd_;
        fd_ = -1;
        SpoolEntry entry{
            Impl::make_summary(id_, envelope_, DeliveryState::fresh(envelope_.spec.recipients.size()), size_),
            header_size_};
        auto* spool = &spool_;
        job.on_done = [spool, id = id_, entry, done = std::move(done)](std::error_code ec) {
            if (ec) {
                ++spool->commit_errors;
                spool->count_error("commit");
                log::error("spool", "commit failed", {{"id", id}, {"error", ec.message()}});
                done(ec, {});
                return;
            }
            spool->record_commit(id, entry);
            done({}, id);
        };
        spool_.committer->submit(std::move(job));
    }

    void abort() override {
        if (fd_ < 0) return;
        ::close(fd_);
        fd_ = -1;
        ::unlink(tmp_path_.c_str());
    }

  private:
    using Impl = FileSpool::Impl;

    bool write(std::string_view bytes) {
        int e = spool_.fault(FaultPoint::write_message, tmp_path_);
        if (e == 0) e = write_all(fd_, bytes.data(), bytes.size());
        if (e != 0) {
            error_ = e;
            log::error("spool", "write failed", {{"id", id_}, {"error", std::strerror(e)}});
        }
        return e == 0;
    }
    bool flush() {
        if (buffer_.empty()) return true;
        bool ok = write(buffer_);
        buffer_.clear();
        return ok;
    }

    FileSpool::Impl& spool_;
    std::string id_;
    int fd_;
    std::string tmp_path_;
    std::uint64_t header_size_;
    std::uint64_t length_offset_;
    StoredEnvelope envelope_;
    std::string buffer_;
    std::uint64_t size_ = 0;
    int error_ = 0;
};

int make_dir(const std::string& path, bool& created) {
    if (::mkdir(path.c_str(), 0700) == 0) {
        created = true;
        return 0;
    }
    return errno == EEXIST ? 0 : errno;
}

}  // namespace

// ---- FileSpool -----------------------------------------------------------------------
FileSpool::FileSpool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileSpool::~FileSpool() = default;

SpoolResult<std::unique_ptr<FileSpool>> FileSpool::open(FileSpoolOptions options) {
    auto impl = std::make_unique<Impl>();
    std::string root = options.directory;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    impl->tmp_dir = root + "/tmp/";
    impl->queue_dir = root + "/queue/";
    impl->quarantine_dir = root + "/quarantine/";
    bool created = false;
    for (const auto& d : {root, impl->tmp_dir, impl->queue_dir, impl->quarantine_dir}) {
        if (int e = make_dir(d, created)) {
            log::error("spool", "cannot create queue directory", {{"dir", d}, {"error", std::strerror(e)}});
            return {to_code(e), nullptr};
        }
        if (d == root) {
            // One relaypool per queue directory, before anything in it is
            // touched (recovery clears tmp/: another instance's messages in
            // the making).
            std::string why;
            impl->lock = FileLock::acquire(root + "/lock", why);
            if (!impl->lock) {
                log::error("spool", "the queue directory is in use by another relaypool",
                           {{"dir", root}, {"error", why}});
                return {to_code(EBUSY), nullptr};
            }
        }
    }
    // New directories must survive a crash too, or so would not the
    // messages committed into them: fsync the root and its parent.
    if (created) {
        for (const auto& d : {root, root + "/.."}) {
            int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int e = fd < 0 ? errno : fsync_fd(fd);
            if (fd >= 0) ::close(fd);
            if (e != 0) return {to_code(e), nullptr};
        }
    }
    impl->queue_fd = ::open(impl->queue_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    impl->quarantine_fd = ::open(impl->quarantine_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (impl->queue_fd < 0 || impl->quarantine_fd < 0) return {to_code(errno), nullptr};
    impl->options = std::move(options);
    std::unique_ptr<FileSpool> spool(new FileSpool(std::move(impl)));
    if (!spool->writable()) {
        log::error("spool", "queue directory is not writable", {{"dir", root}});
        return {to_code(EACCES), nullptr};
    }
    auto& i = *spool->impl_;
    i.committer = std::make_unique<GroupCommitter>(i.queue_fd, i.options.commit_workers, i.options.faults);
    return {{}, std::move(spool)};
}

bool FileSpool::writable() const {
    const std::string probe = impl_->unique_tmp(".probe");
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    bool ok = ::write(fd, "x", 1) == 1;
    ::close(fd);
    ::unlink(probe.c_str());
    return ok;
}

const std::string& FileSpool::directory() const {
    return impl_->options.directory;
}

std::unique_ptr<SpoolWriter> FileSpool::begin(const EnvelopeSpec& envelope) {
    auto& s = *impl_;
    {
        std::lock_guard lock(s.mu);
        if (!s.recovered) {
            log::warn("spool", "intake before recovery refused");
            return nullptr;
        }
    }
    StoredEnvelope env{envelope, std::chrono::system_clock::now()};
    const std::string id = s.next_id();
    const std::string tmp = s.tmp_dir + id;
    auto header = format::encode_message_header(id, env);
    int e = s.fault(FaultPoint::create_message, tmp);
    int fd = -1;
    if (e == 0) {
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) e = errno;
    }
    if (e == 0) e = s.fault(FaultPoint::write_message, tmp);
    if (e == 0) e = write_all(fd, header.bytes.data(), header.bytes.size());
    if (e != 0) {
        if (fd >= 0) {
            ::close(fd);
            ::unlink(tmp.c_str());
        }
        ++s.commit_errors;
        s.count_error("commit");
        log::error("spool", "cannot start a message", {{"id", id}, {"error", std::strerror(e)}});
        return nullptr;
    }
    return std::make_unique<FileWriter>(s, id, fd, tmp, std::move(header), std::move(env));
}

std::vector<std::string> FileSpool::list() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> ids;
    ids.reserve(impl_->index.size());
    for (const auto& [id, e] : impl_->index) ids.push_back(id);
    return ids;
}

SpoolResult<MessageSummary> FileSpool::summary(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->index.find(id);
    if (it == impl_->index.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, it->second.summary};
}

namespace {

// A message listed unvalidated by recover() (it could not be read then):
// validate it now and fill in its index entry. An OS error is returned as
// such (retry later); a failed check is SpoolErrc::corrupt.
std::error_code validate_late(FileSpool::Impl& s, const std::string& id) {
    format::MessageHeader header;
    const MessageCheck check = s.validate_message(id, header);
    if (check.os_error == ENOENT) return make_error_code(SpoolErrc::not_found);
    if (check.os_error != 0) return to_code(check.os_error);
    if (!check.reason.empty()) {
        log::warn("spool", "message failed its integrity check", {{"id", id}, {"reason", check.reason}});
        return make_error_code(SpoolErrc::corrupt);
    }
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (it == s.index.end()) return make_error_code(SpoolErrc::not_found);
    const auto n = header.envelope.spec.recipients.size();
    it->second = SpoolEntry{
        FileSpool::Impl::make_summary(id, header.envelope, DeliveryState::fresh(n), header.body_size),
        header.header_size};
    return {};
}

// The message's state file: fresh when absent; an invalid one is quarantined
// and the message restarts fresh (the rule of recover(): maybe a duplicate,
// never a loss). An OS error is returned as such.
std::error_code load_state(FileSpool::Impl& s, const std::string& id, std::size_t n_rcpt,
                           DeliveryState& out) {
    std::string st;
    int e = s.fault(FaultPoint::read_state, s.state_path(id));
    if (e == 0) e = read_whole(s.state_path(id), st, format::max_header_size);
    if (e == ENOENT) {
        out = DeliveryState::fresh(n_rcpt);
        return {};
    }
    if (e != 0) return to_code(e);
    auto sp = format::decode_state(st, n_rcpt);
    if (sp.ok) {
        out = std::move(sp.state);
        return {};
    }
    log::error("spool", "invalid state file; message restarts from a fresh state",
               {{"id", id}, {"reason", sp.reason}});
    if (int q = s.move_to_quarantine(id + ".state", sp.reason)) return to_code(q);
    fsync_fd(s.quarantine_fd);
    out = DeliveryState::fresh(n_rcpt);
    return {};
}

}  // namespace

SpoolResult<QueuedMessage> FileSpool::load(const std::string& id) {
    auto& s = *impl_;
    std::uint64_t header_size = 0;
    {
        std::lock_guard lock(s.mu);
        auto it = s.index.find(id);
        if (it == s.index.end()) return {make_error_code(SpoolErrc::not_found), {}};
        header_size = it->second.header_size;
    }
    const bool late = header_size == 0;  // unreadable at recover(): check it now
    if (late) {
        if (auto ec = validate_late(s, id)) return {ec, {}};
        std::lock_guard lock(s.mu);
        auto it = s.index.find(id);
        if (it == s.index.end()) return {make_error_code(SpoolErrc::not_found), {}};
        header_size = it->second.header_size;
    }
    std::string data;  // the header only, never the body
    int e = s.fault(FaultPoint::read_message, s.message_path(id));
    if (e == 0) e = read_whole(s.message_path(id), data, header_size);
    if (e != 0) return {e == ENOENT ? make_error_code(SpoolErrc::not_found) : to_code(e), {}};
    auto parsed = format::decode_message_header(data);
    if (parsed.status != format::ParseStatus::ok) {
        log::warn("spool", "message failed its integrity check",
                  {{"id", id}, {"reason", parsed.reason.empty() ? "invalid header" : parsed.reason}});
        return {make_error_code(SpoolErrc::corrupt), {}};
    }
    QueuedMessage m;
    m.id = id;
    m.envelope = std::move(parsed.header.envelope);
    m.body_size = parsed.header.body_size;
    if (auto ec = load_state(s, id, m.envelope.spec.recipients.size(), m.state)) return {ec, {}};
    // Interrupted at a crash (see spool.hpp): report what recover() reported.
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (late && it != s.index.end()) {
        it->second.summary = Impl::make_summary(id, m.envelope, m.state, m.body_size);
        it->second.summary.interrupted = m.state.state == MessageState::active;
        if (it->second.summary.interrupted) it->second.summary.state = MessageState::ready;
    }
    if (m.state.state == MessageState::active && it != s.index.end() && it->second.summary.interrupted)
        m.state.state = MessageState::ready;
    return {{}, std::move(m)};
}

namespace {

// Writes `content` to a new tmp file; returns the open fd or -errno.
int write_state_tmp(FileSpool::Impl& s, const std::string& tmp, const std::string& content) {
    int e = s.fault(FaultPoint::write_state, tmp);
    int fd = -1;
    if (e == 0) {
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) e = errno;
    }
    if (e == 0) e = write_all(fd, content.data(), content.size());
    if (e == 0) return fd;
    if (fd >= 0) {
        ::close(fd);
        ::unlink(tmp.c_str());
    }
    return -e;
}

}  // namespace

// Refuses a state for an unknown message or with the wrong recipient count.
static std::error_code check_state(FileSpool::Impl& s, const std::string& id, const DeliveryState& st) {
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (it == s.index.end()) return make_error_code(SpoolErrc::not_found);
    if (it->second.summary.recipients_total != st.recipients.size())
        return make_error_code(SpoolErrc::bad_state);
    return {};
}

// After a durable state write: update the summary, or drop the state file if
// the message was removed meanwhile.
static void state_written(FileSpool::Impl& s, const std::string& id, const DeliveryState& st,
                          std::error_code ec) {
    if (ec) {
        ++s.state_write_errors;
        s.count_error("state_write");
        log::error("spool", "state write failed; previous state kept", {{"id", id}, {"error", ec.message()}});
        return;
    }
    ++s.state_writes;
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (it == s.index.end()) {
        ::unlink(s.state_path(id).c_str());
        return;
    }
    auto& sum = it->second.summary;
    sum = FileSpool::Impl::make_summary(id, StoredEnvelope{{}, sum.arrival}, st, sum.body_size);
}

std::error_code FileSpool::update_state(const std::string& id, const DeliveryState& state) {
    // One code path for both: the same worker (per message, in order) and the
    // shared directory fsync.
    if (GroupCommitter::on_worker_thread()) {
        log::error("spool", "blocking update_state called from a spool callback (bug): refused",
                   {{"id", id}});
        return std::make_error_code(std::errc::resource_deadlock_would_occur);
    }
    std::promise<std::error_code> result;
    auto future = result.get_future();
    update_state_async(id, state, [&result](std::error_code ec) { result.set_value(ec); });
    return future.get();
}

void FileSpool::update_state_async(const std::string& id, DeliveryState state,
                                   std::function<void(std::error_code)> done) {
    auto& s = *impl_;
    CommitJob job;
    job.kind = CommitJob::Kind::state;
    job.tmp_path = s.unique_tmp(id + ".state");
    job.final_path = s.state_path(id);
    job.preset_error = check_state(s, id, state);
    if (!job.preset_error) {
        int fd = write_state_tmp(s, job.tmp_path, format::encode_state(state));
        if (fd < 0)
            job.preset_error = to_code(-fd);
        else
            job.fd = fd;
    }
    const bool counted = job.preset_error != make_error_code(SpoolErrc::not_found) &&
                         job.preset_error != make_error_code(SpoolErrc::bad_state);
    job.on_done = [&s, id, state = std::move(state), done = std::move(done), counted](std::error_code ec) {
        if (!ec || counted) state_written(s, id, state, ec);
        if (done) done(ec);
    };
    s.committer->submit(std::move(job));
}

std::error_code FileSpool::remove(const std::string& id) {
    auto& s = *impl_;
    if (auto sum = summary(id); !sum) return sum.error;
    const std::string msg = s.message_path(id);
    if (::unlink(msg.c_str()) != 0 && errno != ENOENT) {
        int e = errno;
        log::error("spool", "cannot remove message", {{"id", id}, {"error", std::strerror(e)}});
        return to_code(e);
    }
    {
        std::lock_guard lock(s.mu);
        s.index.erase(id);
    }
    ::unlink(s.state_path(id).c_str());
    ++s.removed;
    // Not waited for: the event loop calls this. Until the directory fsync
    // (queued now, or any concurrent commit's) completes, a crash can bring
    // the message back: delivered again, never lost (docs/spool.md,
    // "duplicate window").
    s.committer->sync_dir_later();
    return {};
}

std::error_code FileSpool::quarantine(const std::string& id, std::string_view reason) {
    auto& s = *impl_;
    if (auto sum = summary(id); !sum) return sum.error;
    if (int e = s.move_to_quarantine(id, reason)) return to_code(e);
    if (::access(s.state_path(id).c_str(), F_OK) == 0) s.move_to_quarantine(id + ".state", reason);
    {
        std::lock_guard lock(s.mu);
        s.index.erase(id);
    }
    if (int e = fsync_fd(s.quarantine_fd)) return to_code(e);
    return s.committer->sync_dir_change();
}

bool FileSpool::storage_low() {
    Impl& s = *impl_;
    if (s.options.min_free_space == 0) return false;
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t checked = s.space_checked_ms.load();
    if (now - checked < 1000 || !s.space_checked_ms.compare_exchange_strong(checked, now))
        return s.space_low.load();
    struct statvfs vfs {};
    if (::statvfs(s.queue_dir.c_str(), &vfs) != 0) return s.space_low.load();
    const std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    const bool low = free_bytes < s.options.min_free_space;
    if (low != s.space_low.exchange(low)) {
        if (low)
            log::warn("spool",
                      "queue filesystem nearly full: new mail refused (452 4.3.1) until space is freed",
                      {{"dir", s.queue_dir},
                       {"free_bytes", std::to_string(free_bytes)},
                       {"min_free_space", std::to_string(s.options.min_free_space)}});
        else
            log::info("spool", "queue filesystem has room again: taking new mail",
                      {{"dir", s.queue_dir}, {"free_bytes", std::to_string(free_bytes)}});
    }
    return low;
}

SpoolResult<BodyRef> FileSpool::open_body(const std::string& id) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->index.find(id);
    if (it == impl_->index.end()) return {make_error_code(SpoolErrc::not_found), {}};
    // Not validated yet (unreadable at recover()): the offset is unknown until load().
    if (it->second.header_size == 0)
        return {std::make_error_code(std::errc::resource_unavailable_try_again), {}};
    return {{}, BodyRef{impl_->message_path(id), it->second.header_size, it->second.summary.body_size}};
}

SpoolResult<std::string> FileSpool::read_body(const std::string& id, std::uint64_t max_bytes) {
    auto ref = open_body(id);
    if (!ref) return {ref.error, {}};
    int fd = ::open(ref.value.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {to_code(errno), {}};
    std::string out;
    int e = pread_some(fd, out, std::min(max_bytes, ref.value.size), ref.value.offset);
    ::close(fd);
    if (e != 0) return {to_code(e), {}};
    return {{}, std::move(out)};
}

void FileSpool::set_commit_listener(std::function<void(const MessageSummary&)> listener) {
    std::lock_guard lock(impl_->mu);
    impl_->listener = std::move(listener);
}

SpoolStats FileSpool::stats() const {
    auto& s = *impl_;
    SpoolStats st;
    st.committed = s.committed;
    st.commit_errors = s.commit_errors;
    st.commit_batches = s.committer ? s.committer->dir_fsyncs() : 0;
    st.state_writes = s.state_writes;
    st.state_write_errors = s.state_write_errors;
    st.removed = s.removed;
    st.quarantined = s.quarantined;
    std::lock_guard lock(s.mu);
    st.queued = s.index.size();
    return st;
}

}  // namespace rp::spool
