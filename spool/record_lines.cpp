// Record lines shared by the spool's file formats (see record_lines.hpp).
#include "spool/record_lines.hpp"

#include "common/checksum.hpp"
#include "spool/spool_format.hpp"

namespace rp::spool::format::records {

std::string hex16(std::uint64_t v) {
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) s[i] = "0123456789abcdef"[v & 15];
    return s;
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

bool checksum_ok(std::string_view token, std::string_view covered) {
    return token.size() == 16 && token == hex16(fnv1a64(covered));
}

}  // namespace rp::spool::format::records
