// Encoding and strict decoding of spool records (see spool_format.hpp and
// docs/spool.md). Records are "key value..." lines ending in LF; values are
// escaped so they never contain a space, LF or control byte.
#include "spool/spool_format.hpp"

#include "spool/record_lines.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <vector>

namespace rp::spool::format {
using namespace records;
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

bool parse_bool(std::string_view s, bool& out) {
    if (s == "0") return out = false, true;
    if (s == "1") return out = true, true;
    return false;
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

}  // namespace rp::spool::format
