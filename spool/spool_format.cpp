// Encoding and strict decoding of spool records (see spool_format.hpp and
// docs/spool.md). Records are "key value..." lines ending in LF; values are
// escaped so they never contain a space, LF or control byte.
#include "spool/spool_format.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

namespace rp::spool::format {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool needs_escape(unsigned char c) {
    return c <= 0x20 || c == 0x7f || c == '%';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string hex16(std::uint64_t v) {
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) s[i] = "0123456789abcdef"[v & 15];
    return s;
}

template <class Int>
bool parse_int(std::string_view s, Int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// A record's time: Unix ms in [0, 2^42] (until year 2109, as pool.state).
// Unbounded, a hostile "next 17620457100000" overflowed the conversion to
// WallTime's nanoseconds (found by fuzz_spool_files).
constexpr std::int64_t max_unix_ms = std::int64_t{1} << 42;
bool parse_unix_ms(std::string_view s, WallTime& out) {
    std::int64_t ms = 0;
    if (!parse_int(s, ms) || ms < 0 || ms > max_unix_ms) return false;
    out = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
    return true;
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos <= line.size()) {
        auto sp = line.find(' ', pos);
        if (sp == std::string_view::npos) sp = line.size();
        out.push_back(line.substr(pos, sp - pos));
        pos = sp + 1;
    }
    return out;
}

void add_record(std::string& out, std::string_view key,
                std::initializer_list<std::string_view> escaped_values) {
    out += key;
    for (auto v : escaped_values) {
        out += ' ';
        out += v;
    }
    out += '\n';
}

// Decodes `n` escaped tokens; false (with reason) on a bad count or escape.
bool decode_values(const std::vector<std::string_view>& fields, std::size_t n, std::vector<std::string>& out,
                   std::string& reason) {
    if (fields.size() != n + 1) {
        reason = "record " + std::string(fields[0]) + ": expected " + std::to_string(n) + " values";
        return false;
    }
    out.assign(n, {});
    for (std::size_t i = 0; i < n; ++i) {
        if (!unescape(fields[i + 1], out[i])) {
            reason = "record " + std::string(fields[0]) + ": bad escape";
            return false;
        }
    }
    return true;
}

bool parse_bool(std::string_view s, bool& out) {
    if (s == "0") return out = false, true;
    if (s == "1") return out = true, true;
    return false;
}

// Splits `data` into lines up to and including the first line starting with
// "end ". Returns false if there is no complete end line.
struct Lines {
    std::vector<std::string_view> records;  // every line before END
    std::string_view end_line;              // without the LF
    std::size_t end_line_start = 0;
    std::size_t total = 0;  // bytes up to and including END's LF
};
bool split_until_end(std::string_view data, Lines& lines, std::size_t limit) {
    std::size_t pos = 0;
    while (pos < data.size() && pos < limit) {
        auto nl = data.find('\n', pos);
        if (nl == std::string_view::npos) return false;
        auto line = data.substr(pos, nl - pos);
        if (line.substr(0, 4) == "end ") {
            lines.end_line = line;
            lines.end_line_start = pos;
            lines.total = nl + 1;
            return true;
        }
        lines.records.push_back(line);
        pos = nl + 1;
    }
    return false;
}

// Checks "<checksum hex16>" against the bytes before the END line.
bool checksum_ok(std::string_view token, std::string_view covered) {
    return token.size() == 16 && token == hex16(fnv1a64(covered));
}

// One envelope record into `h`; false with reason when malformed.
bool apply_message_record(const std::vector<std::string_view>& f, MessageHeader& h,
                          std::set<std::string>& seen, std::string& reason) {
    const std::string key(f[0]);
    if (key != "rcpt" && !seen.insert(key).second) {
        reason = "duplicate record " + key;
        return false;
    }
    auto& env = h.envelope.spec;
    std::vector<std::string> v;
    if (key == "rcpt") {
        if (!decode_values(f, 3, v, reason)) return false;
        if (v[0].empty()) return reason = "empty recipient", false;
        env.recipients.push_back({v[0], v[1], v[2]});
        return true;
    }
    if (key == "smtputf8" || key == "8bitmime") {
        bool b = false;
        if (f.size() != 2 || !parse_bool(f[1], b)) return reason = "record " + key + ": not 0/1", false;
        (key == "smtputf8" ? env.smtputf8 : env.body_8bitmime) = b;
        return true;
    }
    if (key == "arrival") {
        if (f.size() != 2 || !parse_unix_ms(f[1], h.envelope.arrival))
            return reason = "record arrival: not a time", false;
        return true;
    }
    std::string* target = key == "id"         ? &h.id
                          : key == "from"     ? &env.mail_from
                          : key == "ret"      ? &env.ret
                          : key == "envid"    ? &env.envid
                          : key == "listener" ? &env.listener
                          : key == "client"   ? &env.client_addr
                          : key == "helo"     ? &env.helo
                          : key == "auth"     ? &env.auth_user
                                              : nullptr;
    if (!target) return reason = "unknown record " + key, false;
    if (!decode_values(f, 1, v, reason)) return false;
    *target = std::move(v[0]);
    return true;
}

const char* const required_message_records[] = {"id",       "arrival",  "from",   "ret",  "envid", "smtputf8",
                                                "8bitmime", "listener", "client", "helo", "auth"};

}  // namespace

std::string escape(std::string_view value) {
    if (value.empty()) return "%-";
    std::string out;
    out.reserve(value.size());
    for (unsigned char c : value) {
        if (needs_escape(c)) {
            out += '%';
            out += hex_digits[c >> 4];
            out += hex_digits[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

bool unescape(std::string_view token, std::string& out) {
    out.clear();
    if (token == "%-") return true;
    if (token.empty()) return false;
    for (std::size_t i = 0; i < token.size(); ++i) {
        unsigned char c = token[i];
        if (c == '%') {
            if (i + 2 >= token.size()) return false;
            int hi = hex_value(token[i + 1]), lo = hex_value(token[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (needs_escape(c)) {
            return false;  // a raw byte that must have been escaped
        } else {
            out += static_cast<char>(c);
        }
    }
    return true;
}

bool valid_id(std::string_view id) {
    return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

std::string id_from_number(std::uint64_t n) {
    return hex16(n);
}

std::int64_t to_unix_ms(WallTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime from_unix_ms(std::int64_t ms) {
    return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}

EncodedHeader encode_message_header(std::string_view id, const StoredEnvelope& envelope) {
    const auto& env = envelope.spec;
    std::string out;
    out += message_magic;
    out += '\n';
    add_record(out, "id", {escape(id)});
    add_record(out, "arrival", {std::to_string(to_unix_ms(envelope.arrival))});
    add_record(out, "from", {escape(env.mail_from)});
    for (const auto& r : env.recipients)
        add_record(out, "rcpt", {escape(r.address), escape(r.notify), escape(r.orcpt)});
    add_record(out, "ret", {escape(env.ret)});
    add_record(out, "envid", {escape(env.envid)});
    add_record(out, "smtputf8", {env.smtputf8 ? "1" : "0"});
    add_record(out, "8bitmime", {env.body_8bitmime ? "1" : "0"});
    add_record(out, "listener", {escape(env.listener)});
    add_record(out, "client", {escape(env.client_addr)});
    add_record(out, "helo", {escape(env.helo)});
    add_record(out, "auth", {escape(env.auth_user)});
    const std::string sum = hex16(fnv1a64(out));
    EncodedHeader h;
    h.length_offset = out.size() + 4;  // after "end "
    out += "end ";
    out += std::string(body_length_digits, '?');
    out += ' ';
    out += sum;
    out += '\n';
    h.bytes = std::move(out);
    return h;
}

std::string encode_body_length(std::uint64_t body_size) {
    std::string digits = std::to_string(body_size);
    return std::string(body_length_digits - digits.size(), '0') + digits;
}

HeaderParse decode_message_header(std::string_view data) {
    HeaderParse r;
    if (data.size() < message_magic.size() + 1) {
        bool prefix = message_magic.substr(0, data.size()) == data;
        r.status = prefix ? ParseStatus::need_more : ParseStatus::invalid;
        if (!prefix) r.reason = "not a relaypool message file";
        return r;
    }
    if (data.substr(0, message_magic.size()) != message_magic || data[message_magic.size()] != '\n') {
        r.reason = "not a relaypool message file (or another version)";
        return r;
    }
    Lines lines;
    if (!split_until_end(data, lines, max_header_size)) {
        r.status = data.size() >= max_header_size ? ParseStatus::invalid : ParseStatus::need_more;
        if (r.status == ParseStatus::invalid) r.reason = "no END record within the header size limit";
        return r;
    }
    auto end = split_spaces(lines.end_line);
    if (end.size() != 3 || end[1].size() != body_length_digits) return r.reason = "malformed END record", r;
    if (!checksum_ok(end[2], data.substr(0, lines.end_line_start)))
        return r.reason = "header checksum mismatch", r;
    if (end[1].find_first_not_of("0123456789") != std::string_view::npos)
        return r.reason = "END without a body length (never committed)", r;
    if (!parse_int(end[1], r.header.body_size)) return r.reason = "END body length out of range", r;
    std::set<std::string> seen;
    for (std::size_t i = 1; i < lines.records.size(); ++i) {
        auto f = split_spaces(lines.records[i]);
        if (!apply_message_record(f, r.header, seen, r.reason)) return r;
    }
    for (const char* key : required_message_records)
        if (!seen.count(key)) return r.reason = std::string("missing record ") + key, r;
    if (!valid_id(r.header.id)) return r.reason = "malformed id record", r;  // (fuzz_spool_files)
    if (r.header.envelope.spec.recipients.empty()) return r.reason = "no recipients", r;
    r.header.header_size = lines.total;
    r.status = ParseStatus::ok;
    return r;
}

std::string check_message_file(const MessageHeader& header, std::string_view file_id,
                               std::uint64_t file_size) {
    if (header.id != file_id) return "id record does not match the file name";
    if (file_size != header.header_size + header.body_size)
        return "size mismatch: file has " + std::to_string(file_size) + " bytes, header says " +
               std::to_string(header.header_size + header.body_size);
    return {};
}

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
