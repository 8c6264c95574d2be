// The record lines shared by the spool's two file formats (message headers
// in spool_format.cpp, state files in state_format.cpp; docs/spool.md):
// "key value..." lines ending in LF, an "end <fnv1a64 hex16>" line that seals
// the bytes before it, strict number and time parsing. Internal to spool/.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"

namespace rp::spool::format::records {

std::string hex16(std::uint64_t v);

template <class Int>
bool parse_int(std::string_view s, Int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

// A record's time: Unix ms in [0, 2^42] (until year 2109, as pool.state).
bool parse_unix_ms(std::string_view s, WallTime& out);
std::vector<std::string_view> split_spaces(std::string_view line);
// Appends "key v1 v2...\n"; the values must already be escaped.
void add_record(std::string& out, std::string_view key,
                std::initializer_list<std::string_view> escaped_values);
// Decodes `n` escaped tokens; false (with reason) on a bad count or escape.
bool decode_values(const std::vector<std::string_view>& fields, std::size_t n, std::vector<std::string>& out,
                   std::string& reason);

// `data` split into lines up to and including the first line starting with
// "end ".
struct Lines {
    std::vector<std::string_view> records;  // every line before END
    std::string_view end_line;              // without the LF
    std::size_t end_line_start = 0;
    std::size_t total = 0;  // bytes up to and including END's LF
};
// False if there is no complete end line within `limit` bytes.
bool split_until_end(std::string_view data, Lines& lines, std::size_t limit);
// Checks "<checksum hex16>" against the bytes before the END line.
bool checksum_ok(std::string_view token, std::string_view covered);

}  // namespace rp::spool::format::records
