// FileSpool::load(): one message's envelope and delivery state from disk
// (never the body). Blocking file reads: the delivery calls it per attempt;
// the admin API calls it on the spool's admin-read thread (queue show, a
// listing page), never on the event loop.
// Rules (docs/spool.md): a message recover() could not read is validated
// here first; an invalid state file is quarantined and the message restarts
// from a fresh state (maybe a duplicate, never a loss); an OS error is
// returned as such (try again later), never taken as a verdict on the file.
#include <cerrno>

#include "common/log.hpp"
#include "spool/file_spool.hpp"
#include "spool/file_spool_impl.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool {
namespace {

using namespace spool_io;

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

}  // namespace

int FileSpool::Impl::read_state(const std::string& id, std::size_t n_rcpt, format::StateParse& out) const {
    std::string data;
    int e = fault(FaultPoint::read_state, state_path(id));
    if (e == 0) e = read_whole(state_path(id), data, format::max_header_size);
    if (e == kNotRegularFile) {
        out = {};
        out.reason = "not a regular file";
        return 0;
    }
    if (e == 0) out = format::decode_state(data, n_rcpt);
    return e;
}

namespace {

// The message's state file: fresh when absent; an invalid one is quarantined
// and the message restarts fresh. An OS error is returned as such.
std::error_code load_state(FileSpool::Impl& s, const std::string& id, std::size_t n_rcpt,
                           DeliveryState& out) {
    format::StateParse sp;
    const int e = s.read_state(id, n_rcpt, sp);
    if (e == ENOENT) {
        out = DeliveryState::fresh(n_rcpt);
        return {};
    }
    if (e != 0) return to_code(e);
    if (sp.ok) {
        out = std::move(sp.state);
        return {};
    }
    log::error("spool", "invalid state file; message restarts from a fresh state",
               {{"id", id}, {"reason", sp.reason}});
    // ENOENT: a concurrent load (an admin read and a delivery run on two
    // threads) quarantined it first; the outcome is the same.
    if (int q = s.move_to_quarantine(id + ".state", sp.reason); q != 0 && q != ENOENT) return to_code(q);
    s.sync_quarantine_later();
    out = DeliveryState::fresh(n_rcpt);
    return {};
}

// The body offset of an indexed message, validating it first when recover()
// could not (0 and an error when it cannot be had now).
std::error_code header_size_of(FileSpool::Impl& s, const std::string& id, std::uint64_t& out, bool& late) {
    {
        std::lock_guard lock(s.mu);
        auto it = s.index.find(id);
        if (it == s.index.end()) return make_error_code(SpoolErrc::not_found);
        out = it->second.header_size;
    }
    late = out == 0;  // unreadable at recover(): check it now
    if (!late) return {};
    if (auto ec = validate_late(s, id)) return ec;
    std::lock_guard lock(s.mu);
    auto it = s.index.find(id);
    if (it == s.index.end()) return make_error_code(SpoolErrc::not_found);
    out = it->second.header_size;
    return {};
}

}  // namespace

SpoolResult<QueuedMessage> FileSpool::load(const std::string& id) {
    auto& s = *impl_;
    std::uint64_t header_size = 0;
    bool late = false;
    if (auto ec = header_size_of(s, id, header_size, late)) return {ec, {}};
    std::string data;  // the header only, never the body
    int e = s.fault(FaultPoint::read_message, s.message_path(id));
    if (e == 0) e = read_whole(s.message_path(id), data, header_size);
    if (e == kNotRegularFile) {
        log::warn("spool", "message failed its integrity check",
                  {{"id", id}, {"reason", "not a regular file"}});
        return {make_error_code(SpoolErrc::corrupt), {}};
    }
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

}  // namespace rp::spool
