// FileSpool intake: begin() creates tmp/<id> with the message header and
// hands out a FileWriter; the writer appends the body (buffered) and commit()
// passes the file to the group committer (fsync, rename into queue/,
// directory fsync), which owns and closes the descriptor from then on.
// Invariant: a writer's tmp file is either committed or unlinked (abort()
// or the destructor); nothing in tmp/ was ever acknowledged.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "spool/file_spool.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {
namespace {

using namespace spool_io;

// Small appends (a line at a time) are gathered into one write. Allocated on
// first use: thousands of sessions in DATA must stay cheap.
constexpr std::size_t write_buffer_size = 32 * 1024;

class FileWriter final : public SpoolWriter {
  public:
    FileWriter(FileSpool::Impl& spool, std::string id, UniqueFd fd, std::string tmp_path,
               format::EncodedHeader header, StoredEnvelope envelope)
        : spool_(spool),
          id_(std::move(id)),
          fd_(std::move(fd)),
          tmp_path_(std::move(tmp_path)),
          header_size_(header.bytes.size()),
          length_offset_(header.length_offset),
          envelope_(std::move(envelope)) {}
    ~FileWriter() override { abort(); }

    bool append(std::string_view bytes) override {
        if (error_ != 0 || !fd_) return false;
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
        if (!fd_) {
            job.preset_error = make_error_code(SpoolErrc::closed);  // committed/aborted twice: a bug
        } else if (error_ == 0 && flush()) {
            const std::string len = format::encode_body_length(size_);
            error_ = pwrite_all(fd_.get(), len.data(), len.size(), length_offset_);
        }
        if (!job.preset_error && error_ != 0) job.preset_error = to_code(error_);
        job.fd = std::move(fd_);
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
        if (!fd_) return;
        fd_.reset();
        ::unlink(tmp_path_.c_str());
    }

  private:
    using Impl = FileSpool::Impl;

    bool write(std::string_view bytes) {
        int e = spool_.fault(FaultPoint::write_message, tmp_path_);
        if (e == 0) e = write_all(fd_.get(), bytes.data(), bytes.size());
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
    UniqueFd fd_;
    std::string tmp_path_;
    std::uint64_t header_size_;
    std::uint64_t length_offset_;
    StoredEnvelope envelope_;
    std::string buffer_;
    std::uint64_t size_ = 0;
    int error_ = 0;
};

}  // namespace

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
    UniqueFd fd;
    if (e == 0) {
        fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) e = errno;
    }
    if (e == 0) e = s.fault(FaultPoint::write_message, tmp);
    if (e == 0) e = write_all(fd.get(), header.bytes.data(), header.bytes.size());
    if (e != 0) {
        if (fd) {
            fd.reset();
            ::unlink(tmp.c_str());
        }
        ++s.commit_errors;
        s.count_error("commit");
        log::error("spool", "cannot start a message", {{"id", id}, {"error", std::strerror(e)}});
        return nullptr;
    }
    return std::make_unique<FileWriter>(s, id, std::move(fd), tmp, std::move(header), std::move(env));
}

}  // namespace rp::spool
