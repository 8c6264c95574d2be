// FileSpool::recover(): the start-up scan (rules in docs/spool.md).
//
// - tmp/ leftovers were never acknowledged (no 250): removed.
// - queue/<id>: header parsed, END present, checksum and file size checked;
//   the body is never read. A file that was read and fails is moved to
//   quarantine/ (kept, logged, counted) and the scan goes on. A file that
//   could not be read (EIO, EMFILE, ENOMEM: an OS error, no verdict) stays in
//   queue/, is listed, and load() validates it later: never quarantined,
//   never lost.
// - queue/<id>.state: decoded; an invalid one is quarantined and the message
//   restarts from a fresh state (at-least-once: never lost, maybe repeated).
//   One without a message is an orphan of remove(): deleted.
// - Anything else in queue/ is quarantined.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "spool/file_spool.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {
namespace {

using namespace spool_io;

// Names of the entries of a directory (without . and ..); errno on failure.
// readdir() ends a listing and fails the same way (NULL), told apart by
// errno only: a read error (EIO, a damaged directory block) taken for the
// end would make a partial listing look whole, and its state files without
// their message would be removed as orphans.
int list_dir(const FileSpool::Impl& s, const std::string& dir, std::vector<std::string>& names) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return errno;
    int error = 0;
    for (;;) {
        errno = 0;
        const dirent* e = ::readdir(d);
        if (!e) {
            if (int injected = s.fault(FaultPoint::list_dir, dir)) errno = injected;
            error = errno;
            break;
        }
        std::string_view n = e->d_name;
        if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    return error;
}

struct Scan {
    std::vector<std::string> messages;
    std::set<std::string> states;  // ids that have a state file
    std::vector<std::string> unknown;
};

Scan classify(const std::vector<std::string>& names) {
    Scan scan;
    for (const auto& n : names) {
        if (format::valid_id(n))
            scan.messages.push_back(n);
        else if (n.size() == 22 && n.ends_with(".state") && format::valid_id(n.substr(0, 16)))
            scan.states.insert(n.substr(0, 16));
        else
            scan.unknown.push_back(n);
    }
    std::sort(scan.messages.begin(), scan.messages.end());
    return scan;
}

// A message that could not be read: listed with what its id tells (the
// arrival), validated by load() later. Never quarantined for an OS error.
SpoolEntry unreadable_entry(const std::string& id) {
    SpoolEntry e;
    e.summary.id = id;
    // The id is the arrival in microseconds; a hostile name could be past
    // what WallTime holds.
    constexpr auto kLatest = std::chrono::duration_cast<std::chrono::microseconds>(WallTime::duration::max());
    const auto micros = std::min<std::uint64_t>(std::stoull(id, nullptr, 16), kLatest.count());
    e.summary.arrival = WallTime(std::chrono::duration_cast<WallTime::duration>(
        std::chrono::microseconds(static_cast<std::int64_t>(micros))));
    e.summary.state = MessageState::ready;
    e.header_size = 0;
    return e;
}

}  // namespace

// Validates queue/<id> without reading its body. An OS error (EMFILE, EIO,
// ENOMEM...) is reported as such: it says nothing about the file, and a
// quarantined message is never delivered.
MessageCheck FileSpool::Impl::validate_message(const std::string& id, format::MessageHeader& out) const {
    const std::string path = message_path(id);
    MessageCheck check;
    if ((check.os_error = fault(FaultPoint::read_message, path))) return check;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));  // (read_whole)
    if (!fd) {
        if (errno == ELOOP)
            check.reason = "a symbolic link";
        else if (errno == ENXIO)
            check.reason = "not a regular file";
        else
            check.os_error = errno;
        return check;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        check.os_error = errno;
    } else if (!S_ISREG(st.st_mode)) {
        check.reason = "not a regular file";
    } else {
        const auto size = static_cast<std::uint64_t>(st.st_size);
        const std::size_t limit =
            static_cast<std::size_t>(std::min<std::uint64_t>(size, format::max_header_size));
        std::string data;
        format::HeaderParse parsed;
        for (std::size_t want = std::min<std::size_t>(limit, 4096);; want = std::min(limit, want * 4)) {
            if (int e = pread_some(fd.get(), data, want, 0)) {
                check.os_error = e;
                break;
            }
            parsed = format::decode_message_header(data);
            if (parsed.status != format::ParseStatus::need_more) break;
            if (want >= limit) {
                parsed.reason = "truncated: no END record";
                break;
            }
        }
        if (check.os_error != 0) {
            // not judged
        } else if (parsed.status == format::ParseStatus::ok) {
            check.reason = format::check_message_file(parsed.header, id, size);
            out = std::move(parsed.header);
        } else {
            check.reason = parsed.reason.empty() ? "invalid header" : parsed.reason;
        }
    }
    return check;
}

namespace {

// The delivery state of a valid message: its state file, or fresh when absent
// or invalid (the invalid file is quarantined). nullopt when the file could
// not be read (an OS error): the message is then listed unvalidated and
// load() reads both files again.
std::optional<DeliveryState> recover_state(FileSpool::Impl& s, const std::string& id, std::size_t n_rcpt,
                                           bool has_file, RecoveryReport& report) {
    if (!has_file) return DeliveryState::fresh(n_rcpt);
    format::StateParse parsed;
    if (int e = s.read_state(id, n_rcpt, parsed)) {
        log::warn("spool", "cannot read state file; kept, checked again at delivery",
                  {{"id", id}, {"error", std::strerror(e)}});
        return std::nullopt;
    }
    if (parsed.ok) return std::move(parsed.state);
    log::error("spool", "invalid state file; message restarts from a fresh state",
               {{"id", id}, {"reason", parsed.reason}});
    if (s.move_to_quarantine(id + ".state", parsed.reason) == 0) ++report.quarantined;
    return DeliveryState::fresh(n_rcpt);
}

}  // namespace

SpoolResult<RecoveryReport> FileSpool::recover() {
    auto& s = *impl_;
    const auto started = std::chrono::steady_clock::now();
    RecoveryReport report;
    {
        std::lock_guard lock(s.mu);
        if (s.recovered) {  // a second call: no rescan, just the current queue
            for (const auto& [id, e] : s.index) report.messages.push_back(e.summary);
            return {{}, std::move(report)};
        }
    }
    std::vector<std::string> names;
    if (int e = list_dir(s, s.tmp_dir, names)) return {to_code(e), {}};
    for (const auto& n : names)
        if (::unlink((s.tmp_dir + n).c_str()) == 0) ++report.tmp_removed;
    names.clear();
    if (int e = list_dir(s, s.queue_dir, names)) return {to_code(e), {}};
    Scan scan = classify(names);
    names = {};

    for (const auto& n : scan.unknown)
        if (s.move_to_quarantine(n, "unknown file in the queue directory") == 0) ++report.quarantined;

    std::map<std::string, SpoolEntry> index;
    std::uint64_t max_id = 0;
    auto keep_unreadable = [&](const std::string& id) {
        ++report.unreadable;
        SpoolEntry entry = unreadable_entry(id);
        report.messages.push_back(entry.summary);
        index.emplace(id, std::move(entry));
    };
    for (const auto& id : scan.messages) {
        format::MessageHeader header;
        const MessageCheck check = s.validate_message(id, header);
        const bool has_state = scan.states.erase(id) > 0;
        max_id = std::max<std::uint64_t>(max_id, std::stoull(id, nullptr, 16));
        if (check.os_error != 0) {
            log::warn("spool", "cannot read message; kept in the queue, checked again at delivery",
                      {{"id", id}, {"error", std::strerror(check.os_error)}});
            keep_unreadable(id);
            continue;
        }
        if (!check.reason.empty()) {
            if (s.move_to_quarantine(id, check.reason) == 0) ++report.quarantined;
            if (has_state) s.move_to_quarantine(id + ".state", "its message was quarantined");
            continue;
        }
        auto recovered = recover_state(s, id, header.envelope.spec.recipients.size(), has_state, report);
        if (!recovered) {
            keep_unreadable(id);
            continue;
        }
        DeliveryState& st = *recovered;
        SpoolEntry entry{Impl::make_summary(id, header.envelope, st, header.body_size), header.header_size};
        if (st.state == MessageState::active) {
            entry.summary.state = MessageState::ready;
            entry.summary.interrupted = true;
            ++report.interrupted;
        }
        report.messages.push_back(entry.summary);
        index.emplace(id, std::move(entry));
    }
    for (const auto& id : scan.states)
        if (::unlink(s.state_path(id).c_str()) == 0) ++report.orphan_states_removed;
    if (report.quarantined > 0) fsync_fd(s.quarantine_fd.get());
    if (report.quarantined + report.orphan_states_removed > 0) fsync_fd(s.queue_fd.get());
    {
        std::lock_guard lock(s.mu);
        s.index = std::move(index);
        s.last_id = std::max(s.last_id, max_id);
        s.recovered = true;
    }
    report.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    log::info("spool", "recovered",
              {{"messages", std::to_string(report.messages.size())},
               {"interrupted", std::to_string(report.interrupted)},
               {"quarantined", std::to_string(report.quarantined)},
               {"unreadable", std::to_string(report.unreadable)},
               {"tmp_removed", std::to_string(report.tmp_removed)},
               {"orphan_states_removed", std::to_string(report.orphan_states_removed)},
               {"ms", std::to_string(report.elapsed.count())}});
    return {{}, std::move(report)};
}

}  // namespace rp::spool
