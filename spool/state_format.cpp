// The state file: a message's delivery progress, rewritten after each
// attempt (see spool_format.hpp and docs/spool.md).
#include <set>

#include "common/checksum.hpp"
#include "spool/record_lines.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool::format {
using namespace records;

std::string encode_state(const DeliveryState& state) {
    std::string out;
    out += state_magic;
    out += '\n';
    add_record(out, "state", {to_string(state.state)});
    add_record(out, "attempts", {std::to_string(state.attempts)});
    add_record(out, "next", {std::to_string(to_unix_ms(state.next_attempt))});
    add_record(out, "error", {escape(state.last_error)});
    for (const auto& r : state.recipients)
        add_record(
            out, "rcpt",
            {to_string(r.status), std::to_string(r.attempts), escape(r.account), escape(r.last_reply)});
    const std::size_t n = state.history.size();
    const std::size_t first = n > DeliveryState::max_history ? n - DeliveryState::max_history : 0;
    for (std::size_t i = first; i < n; ++i) {
        const auto& a = state.history[i];
        add_record(out, "attempt", {std::to_string(to_unix_ms(a.at)), escape(a.account), escape(a.result)});
    }
    const std::string sum = hex16(fnv1a64(out));
    out += "end ";
    out += sum;
    out += '\n';
    return out;
}

namespace {

bool parse_message_state(std::string_view s, MessageState& out) {
    for (auto v : {MessageState::ready, MessageState::active, MessageState::deferred})
        if (to_string(v) == s) return out = v, true;
    return false;
}

bool parse_recipient_status(std::string_view s, RecipientStatus& out) {
    for (auto v : {RecipientStatus::pending, RecipientStatus::delivered, RecipientStatus::bounced})
        if (to_string(v) == s) return out = v, true;
    return false;
}

bool apply_state_record(const std::vector<std::string_view>& f, DeliveryState& st,
                        std::set<std::string>& seen, std::string& reason) {
    const std::string key(f[0]);
    if (key != "rcpt" && key != "attempt" && !seen.insert(key).second)
        return reason = "duplicate record " + key, false;
    std::vector<std::string> v;
    if (key == "state") {
        if (f.size() != 2 || !parse_message_state(f[1], st.state)) return reason = "bad state record", false;
    } else if (key == "attempts") {
        if (f.size() != 2 || !parse_int(f[1], st.attempts)) return reason = "bad attempts record", false;
    } else if (key == "next") {
        if (f.size() != 2 || !parse_unix_ms(f[1], st.next_attempt)) return reason = "bad next record", false;
    } else if (key == "error") {
        if (!decode_values(f, 1, v, reason)) return false;
        st.last_error = std::move(v[0]);
    } else if (key == "rcpt") {
        RecipientState r;
        if (f.size() != 5 || !parse_recipient_status(f[1], r.status) || !parse_int(f[2], r.attempts) ||
            !unescape(f[3], r.account) || !unescape(f[4], r.last_reply))
            return reason = "bad rcpt record", false;
        st.recipients.push_back(std::move(r));
    } else if (key == "attempt") {
        AttemptRecord a;
        if (f.size() != 4 || !parse_unix_ms(f[1], a.at) || !unescape(f[2], a.account) ||
            !unescape(f[3], a.result))
            return reason = "bad attempt record", false;
        st.history.push_back(std::move(a));
    } else {
        return reason = "unknown record " + key, false;
    }
    return true;
}

}  // namespace

StateParse decode_state(std::string_view data, std::size_t expected_recipients) {
    StateParse r;
    if (data.substr(0, state_magic.size()) != state_magic || data.size() <= state_magic.size() ||
        data[state_magic.size()] != '\n')
        return r.reason = "not a relaypool state file (or another version)", r;
    Lines lines;
    if (!split_until_end(data, lines, data.size())) return r.reason = "no END record (truncated)", r;
    if (lines.total != data.size()) return r.reason = "bytes after the END record", r;
    auto end = split_spaces(lines.end_line);
    if (end.size() != 2 || !checksum_ok(end[1], data.substr(0, lines.end_line_start)))
        return r.reason = "state checksum mismatch", r;
    std::set<std::string> seen;
    for (std::size_t i = 1; i < lines.records.size(); ++i)
        if (!apply_state_record(split_spaces(lines.records[i]), r.state, seen, r.reason)) return r;
    for (const char* key : {"state", "attempts", "next", "error"})
        if (!seen.count(key)) return r.reason = std::string("missing record ") + key, r;
    if (r.state.recipients.size() != expected_recipients)
        return r.reason = "recipient count " + std::to_string(r.state.recipients.size()) + " != envelope's " +
                          std::to_string(expected_recipients),
               r;
    if (r.state.history.size() > DeliveryState::max_history) return r.reason = "history too long", r;
    r.ok = true;
    return r;
}

}  // namespace rp::spool::format
