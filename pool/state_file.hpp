// The pool.state text format: one record per line, each line sealed with a
// checksum so a torn or damaged line is recognised. Pure (bytes in, bytes
// out); the file I/O is pool/file_store.*, the meaning of each record is
// Pool::restore / Pool::snapshot (pool/pool_state.cpp).
//
//   <kind> <field> <field> ... #<64-bit FNV-1a of everything before " #", 16 hex digits>\n
//
// Fields are separated by one space; only the last field of a record may
// contain spaces (a reason text); no field contains a newline (the writer
// replaces them). Reading:
// - every line sealed and intact: ok;
// - only the last line(s) broken (no newline at the end, bad checksum) and
//   nothing intact after them: torn_tail; the intact lines before are used
//   (a torn tail is a write that never completed: those sends never started);
// - a broken line followed by an intact one, or a bad first line: unreadable.
// docs/pool.md describes the records.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rp::pool {

// "S 12 a@x 1700000000000 3" -> "S 12 a@x 1700000000000 3 #1a2b3c4d\n".
std::string seal(std::string_view body);

// Joins fields with spaces (the last may contain spaces; newlines and CRs
// in any field become spaces), then seals.
std::string record(std::initializer_list<std::string_view> fields);

struct ParsedState {
    enum class Status { ok, torn_tail, unreadable };
    Status status = Status::ok;
    std::vector<std::vector<std::string>> records;  // fields of each intact line
    std::size_t dropped_lines = 0;                  // torn tail lines dropped
    std::string problem;                            // for the log when not ok
};

ParsedState parse_state(std::string_view text);

}  // namespace rp::pool
