// FileSpool delivery-state writes: update_state_async() writes the new state
// to tmp/ on the caller's thread (page cache only) and hands it to the group
// committer (fdatasync, rename over queue/<id>.state, shared directory
// fsync); update_state() is the same, waited for.
// Invariants: a failed write leaves the previous state file in place (the
// durable one); writes of one message complete in call order (one committer
// worker per final path); a state for a message removed meanwhile is
// dropped again once written.
#include <fcntl.h>
#include <unistd.h>

#include <future>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "spool/file_spool.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {
namespace {

using namespace spool_io;

// Writes `content` to a new tmp file; the open descriptor, or an errno.
int write_state_tmp(FileSpool::Impl& s, const std::string& tmp, const std::string& content, UniqueFd& out) {
    int e = s.fault(FaultPoint::write_state, tmp);
    UniqueFd fd;
    if (e == 0) {
        fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) e = errno;
    }
    if (e == 0) e = write_all(fd.get(), content.data(), content.size());
    if (e == 0) {
        out = std::move(fd);
        return 0;
    }
    if (fd) {
        fd.reset();
        ::unlink(tmp.c_str());
    }
    return e;
}

// Refuses a state for an unknown message or with the wrong recipient count.
std::error_code check_state(FileSpool::Impl& s, const std::string& id, const DeliveryState& st) {
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (it == s.index.end()) return make_error_code(SpoolErrc::not_found);
    if (it->second.summary.recipients_total != st.recipients.size())
        return make_error_code(SpoolErrc::bad_state);
    return {};
}

// After a durable state write: update the summary, or drop the state file if
// the message was removed meanwhile.
void state_written(FileSpool::Impl& s, const std::string& id, const DeliveryState& st, std::error_code ec) {
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

}  // namespace

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
        if (int e = write_state_tmp(s, job.tmp_path, format::encode_state(state), job.fd))
            job.preset_error = to_code(e);
    }
    const bool counted = job.preset_error != make_error_code(SpoolErrc::not_found) &&
                         job.preset_error != make_error_code(SpoolErrc::bad_state);
    job.on_done = [&s, id, state = std::move(state), done = std::move(done), counted](std::error_code ec) {
        if (!ec || counted) state_written(s, id, state, ec);
        if (done) done(ec);
    };
    s.committer->submit(std::move(job));
}

}  // namespace rp::spool
