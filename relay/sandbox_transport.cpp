// SandboxTransport: writes outgoing messages as .eml files (see
// sandbox_transport.hpp). POSIX file I/O on one private thread.
#include "relay/sandbox_transport.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "protocol/message_filter.hpp"

namespace rp::relay {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Spool ids are safe already; never let one escape the directory anyway.
std::string safe_name(std::string_view id) {
    std::string out;
    for (char c : id)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
    if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
    return out;
}

std::string envelope_lines(const DeliveryRequest& r) {
    std::string s = "X-Relaypool-Account: " + r.account.username + "\r\n";
    s += "X-Relaypool-Mail-From: <" + r.mail_from + ">\r\n";
    for (const auto& rcpt : r.recipients) s += "X-Relaypool-Rcpt-To: <" + rcpt + ">\r\n";
    return s;
}

}  // namespace

struct SandboxTransport::Impl {
    SandboxOptions options;
    boost::asio::thread_pool pool{1};
    std::atomic<bool> closed{false};
};

SandboxTransport::SandboxTransport(SandboxOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
    ::mkdir(impl_->options.directory.c_str(), 0755);  // the check-config/readiness path reports failures
}

SandboxTransport::~SandboxTransport() {
    impl_->pool.join();
}

void SandboxTransport::shutdown() {
    impl_->closed = true;
}

SandboxTransport::WriteResult SandboxTransport::write(const DeliveryRequest& r) const {
    const std::string& dir = impl_->options.directory;
    Fd in(::open(r.message_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return {"", errno_text("open message")};

    const std::string base = dir + "/" + safe_name(r.message_id) + "-";
    std::string final_path;
    for (unsigned n = 1;; ++n) {
        final_path = base + std::to_string(n) + ".eml";
        struct stat st;
        if (::stat(final_path.c_str(), &st) != 0) break;
    }
    const std::string tmp_path = dir + "/." + final_path.substr(dir.size() + 1) + ".tmp";
    Fd out(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.get() < 0) return {"", errno_text("create sandbox file")};

    auto fail = [&](const char* what) {
        WriteResult res{"", errno_text(what)};
        ::unlink(tmp_path.c_str());
        return res;
    };
    protocol::MessageFilterOptions fo;
    fo.strip_headers = impl_->options.strip_headers;
    if (impl_->options.sender_rewrite == config::SenderRewrite::envelope_header && !r.original_from.empty())
        fo.rewrite_from_to = r.account.username;
    protocol::MessageFilter filter(std::move(fo));

    std::string buf(kChunk, '\0');
    std::string filtered = envelope_lines(r);
    std::uint64_t offset = r.body_offset, left = r.body_size;
    while (left > 0) {
        const ssize_t n =
            ::pread(in.get(), buf.data(), std::min<std::uint64_t>(left, kChunk), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail("read message");
        if (n == 0) {
            errno = EIO;
            return fail("message file shorter than recorded");
        }
        filter.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), filtered);
        if (!write_all(out.get(), filtered)) return fail("write sandbox file");
        filtered.clear();
        offset += static_cast<std::uint64_t>(n);
        left -= static_cast<std::uint64_t>(n);
    }
    filter.finish(filtered);
    if (!write_all(out.get(), filtered)) return fail("write sandbox file");
    if (::fsync(out.get()) != 0) return fail("fsync sandbox file");
    if (::close(out.release()) != 0) return fail("close sandbox file");
    if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) return fail("rename sandbox file");
    Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.get() >= 0) ::fsync(d.get());
    return {final_path, ""};
}

boost::asio::awaitable<DeliveryReport> SandboxTransport::deliver(DeliveryRequest request) {
    DeliveryReport report;
    if (impl_->closed || request.account.username.empty()) {
        report.session_failure = protocol::UpstreamOutcome{
            protocol::Stage::connect, 0, "", "sandbox: shut down", protocol::LocalFailure::refused};
        co_return report;
    }
    WriteResult result =
        co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(WriteResult)>(
            [this, &request](auto handler) {
                auto ex = boost::asio::get_associated_executor(handler);
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                // The work guard keeps the io_context running while the file is written.
                auto work = boost::asio::make_work_guard(ex);
                boost::asio::post(impl_->pool, [this, &request, h, ex, work]() mutable {
                    WriteResult r = write(request);
                    boost::asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
                    work.reset();
                });
            },
            boost::asio::use_awaitable);
    if (!result.error.empty()) {
        log::error("sandbox", "write failed", {{"id", request.message_id}, {"error", result.error}});
        report.session_failure = protocol::UpstreamOutcome{
            protocol::Stage::connect, 0, "", "sandbox: " + result.error, protocol::LocalFailure::protocol};
        co_return report;
    }
    log::info("sandbox", "written",
              {{"id", request.message_id}, {"account", request.account.username}, {"file", result.path}});
    for (const auto& rcpt : request.recipients)
        report.recipients.push_back(RecipientResult{
            rcpt,
            protocol::UpstreamOutcome{protocol::Stage::body, 250, "2.0.0",
                                      "sandbox: written to " + result.path, protocol::LocalFailure::none}});
    co_return report;
}

}  // namespace rp::relay
