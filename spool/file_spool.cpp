// FileSpool: opening (directories, lock, probe), the in-memory index
// (list, a listing page, summaries) and the queue operations that change it
// (remove, quarantine), the free-space check and body access. Intake is in
// file_writer.cpp, load() in file_spool_load.cpp, state writes in
// file_spool_state.cpp, the start-up scan in file_spool_recover.cpp; the
// on-disk format in spool_format.*, the batching of fsyncs in group_commit.*.
#include "spool/file_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {

using namespace spool_io;

// ---- Impl ------------------------------------------------------------------------
FileSpool::Impl::~Impl() {
    // Background jobs may still use the committer (a directory sync): first.
    if (admin_reads) admin_reads->stop();
    if (delivery_io) delivery_io->stop();
    if (committer) committer->stop();  // drain: every pending commit gets its answer
    committer.reset();
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

// The renames are done; their directory entries become durable on the
// delivery_io worker (a crash before that finds the file in queue/ again
// and quarantines it again: nothing is lost, nothing delivered).
void FileSpool::Impl::sync_quarantine_later() {
    delivery_io->post([this] {
        int e = fsync_fd(quarantine_fd.get());
        std::error_code ec = e ? to_code(e) : committer->sync_dir_change();
        if (ec) log::error("spool", "quarantine directory fsync failed", {{"error", ec.message()}});
    });
}

namespace {

int make_dir(const std::string& path, bool& created) {
    if (::mkdir(path.c_str(), 0700) == 0) {
        created = true;
        return 0;
    }
    return errno == EEXIST ? 0 : errno;
}

// Creates the directories under `root` and takes its lock, before anything
// in it is touched (recovery clears tmp/: another instance's messages in the
// making). New directories are made durable (fsync of root and its parent),
// or so would not be the messages committed into them.
std::error_code make_layout(FileSpool::Impl& s, const std::string& root) {
    bool created = false;
    for (const auto& d : {root, s.tmp_dir, s.queue_dir, s.quarantine_dir}) {
        if (int e = make_dir(d, created)) {
            log::error("spool", "cannot create queue directory", {{"dir", d}, {"error", std::strerror(e)}});
            return to_code(e);
        }
        if (d != root) continue;
        std::string why;
        s.lock = FileLock::acquire(root + "/lock", why);
        if (!s.lock) {
            log::error("spool", "the queue directory is in use by another relaypool",
                       {{"dir", root}, {"error", why}});
            return to_code(EBUSY);
        }
    }
    if (created)
        for (const auto& d : {root, root + "/.."})
            if (int e = fsync_path(d)) return to_code(e);
    return {};
}

}  // namespace

// ---- FileSpool -----------------------------------------------------------------------
FileSpool::FileSpool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FileSpool::~FileSpool() {
    // Queued jobs (load_async, remove_async) call back into this object:
    // run them while it is whole (Impl's destructor then finds none). The
    // workers do not exist when open() gave up before starting them.
    if (impl_->admin_reads) impl_->admin_reads->stop();
    if (impl_->delivery_io) impl_->delivery_io->stop();
}

SpoolResult<std::unique_ptr<FileSpool>> FileSpool::open(FileSpoolOptions options) {
    auto impl = std::make_unique<Impl>();
    std::string root = options.directory;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    impl->tmp_dir = root + "/tmp/";
    impl->queue_dir = root + "/queue/";
    impl->quarantine_dir = root + "/quarantine/";
    if (auto ec = make_layout(*impl, root)) return {ec, nullptr};
    impl->queue_fd.reset(::open(impl->queue_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!impl->queue_fd) return {to_code(errno), nullptr};
    impl->quarantine_fd.reset(::open(impl->quarantine_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!impl->quarantine_fd) return {to_code(errno), nullptr};
    impl->options = std::move(options);
    std::unique_ptr<FileSpool> spool(new FileSpool(std::move(impl)));
    if (!spool->writable()) {
        log::error("spool", "queue directory is not writable", {{"dir", root}});
        return {to_code(EACCES), nullptr};
    }
    auto& i = *spool->impl_;
    i.committer =
        std::make_unique<GroupCommitter>(i.queue_fd.get(), i.options.commit_workers, i.options.faults);
    i.delivery_io = std::make_unique<BackgroundWorker>();
    i.admin_reads = std::make_unique<BackgroundWorker>();
    return {{}, std::move(spool)};
}

bool FileSpool::writable() const {
    const std::string probe = impl_->unique_tmp(".probe");
    // A probe left by a crash between create and unlink has this name too
    // (recover() clears tmp/ only later): without the unlink O_EXCL would
    // fail and every later start would find the queue "not writable".
    ::unlink(probe.c_str());
    UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return false;
    bool ok = ::write(fd.get(), "x", 1) == 1;
    fd.reset();
    ::unlink(probe.c_str());
    return ok;
}

const std::string& FileSpool::directory() const {
    return impl_->options.directory;
}

std::vector<std::string> FileSpool::list() const {
    std::lock_guard lock(impl_->mu);
    std::vector<std::string> ids;
    ids.reserve(impl_->index.size());
    for (const auto& [id, e] : impl_->index) ids.push_back(id);
    return ids;
}

FileSpool::ListPage FileSpool::list_page(const std::string& after, std::size_t limit) const {
    ListPage page;
    std::lock_guard lock(impl_->mu);
    const auto& index = impl_->index;
    page.total = index.size();
    auto it = after.empty() ? index.begin() : index.upper_bound(after);
    for (; it != index.end() && page.messages.size() < limit; ++it)
        page.messages.push_back(it->second.summary);
    page.more = it != index.end();
    return page;
}

void FileSpool::post_admin_read(std::function<void()> job) {
    impl_->admin_reads->post(std::move(job));
}

void FileSpool::load_async(const std::string& id, std::function<void(SpoolResult<QueuedMessage>)> done) {
    impl_->delivery_io->post([this, id, done = std::move(done)] { done(load(id)); });
}

SpoolResult<MessageSummary> FileSpool::summary(const std::string& id) const {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->index.find(id);
    if (it == impl_->index.end()) return {make_error_code(SpoolErrc::not_found), {}};
    return {{}, it->second.summary};
}

std::error_code FileSpool::remove(const std::string& id) {
    auto& s = *impl_;
    if (auto sum = summary(id); !sum) return sum.error;
    const std::string msg = s.message_path(id);
    int e = s.fault(FaultPoint::remove_message, msg);
    if (e == 0 && ::unlink(msg.c_str()) != 0 && errno != ENOENT) e = errno;
    if (e != 0) {
        s.count_error("remove");
        log::error("spool", "cannot remove message", {{"id", id}, {"error", std::strerror(e)}});
        return to_code(e);
    }
    {
        std::lock_guard lock(s.mu);
        s.index.erase(id);
    }
    ::unlink(s.state_path(id).c_str());
    ++s.removed;
    // Not waited for: the directory fsync (queued now, or any concurrent
    // commit's). Until it completes a crash can bring the message back:
    // delivered again, never lost (docs/spool.md, "duplicate window").
    s.committer->sync_dir_later();
    return {};
}

// The unlinks on the delivery_io thread, not the caller's (the event loop):
// on a busy ext4 each waits for the journal (measured during a restart's
// drain: 0.33 ms on average, up to 10 ms, a third of the loop's time).
void FileSpool::remove_async(const std::string& id, std::function<void(std::error_code)> done) {
    impl_->delivery_io->post([this, id, done = std::move(done)] { done(remove(id)); });
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
    s.sync_quarantine_later();  // the event loop calls this: no fsync here
    return {};
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
    UniqueFd fd(::open(ref.value.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return {to_code(errno), {}};
    std::string out;
    if (int e = pread_some(fd.get(), out, std::min(max_bytes, ref.value.size), ref.value.offset))
        return {to_code(e), {}};
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
