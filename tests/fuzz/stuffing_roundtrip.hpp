// The differential property of the outgoing message path, shared by the fuzz
// target fuzz_stuffing_roundtrip and the doctest property test
// tests/protocol/stuffing_roundtrip_test.cpp (same check, two drivers).
//
// A message as intake stores it (every CR, LF or CRLF as CRLF: what
// DataReader / BDAT intake keep) goes through MessageFilter (options from
// `knobs`), then DotStuffer in pieces; the server side's DataReader is the
// reference unstuffer. Properties:
// - the filter never introduces a bare CR or LF (BDAT sends its output
//   unchanged), and gives the same output whole or in pieces;
// - the wire is CRLF-only and its only CRLF.CRLF is the final one;
// - unstuffing the wire gives the filter's output back exactly (identity);
// - the raw, unnormalized message stuffed directly also goes out CRLF-only
//   and unstuffs to its normalized form.
// check_stuffing_roundtrip returns "" or the first property that failed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/data_reader.hpp"
#include "protocol/message_filter.hpp"

namespace rp::fuzz {

// Every CR, LF or CRLF as one CRLF.
inline std::string normalize_line_ends(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '\r' && in[i] != '\n') {
            out.push_back(in[i]);
            continue;
        }
        out.append("\r\n");
        if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
    }
    return out;
}

inline bool crlf_only(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    }
    return true;
}

inline std::string with_final_crlf(std::string s) {
    if (!s.empty() && !s.ends_with("\r\n")) s += "\r\n";
    return s;
}

// Stuffs `msg` fed in pieces of sizes derived from `knobs`.
inline std::string stuff_in_pieces(std::string_view msg, unsigned knobs) {
    protocol::DotStuffer stuffer;
    std::string wire;
    std::size_t pos = 0, step = knobs % 5 + 1;
    while (pos < msg.size()) {
        const std::size_t n = std::min(step, msg.size() - pos);
        stuffer.feed(msg.substr(pos, n), wire);
        pos += n;
        step = (step * 7 + knobs) % 11 + 1;
    }
    stuffer.finish(wire);
    return wire;
}

// "" when `wire` is one well-terminated DATA stream that unstuffs to `expected`.
inline std::string check_wire(const std::string& wire, const std::string& expected) {
    if (!crlf_only(wire)) return "bare CR or LF on the wire";
    const std::string framed = "\r\n" + wire;  // the DATA command's CRLF comes first
    if (framed.find("\r\n.\r\n") != framed.size() - 5) return "end of data before the end";
    protocol::DataReader reader;
    std::string content;
    const std::size_t used = reader.feed(wire, content);
    if (!reader.done() || used != wire.size()) return "the unstuffer did not end at the terminator";
    if (content != expected) return "unstuff(stuff(m)) != m";
    return "";
}

inline std::string check_stuffing_roundtrip(std::string_view raw, unsigned knobs) {
    protocol::MessageFilterOptions opt;
    if (knobs & 1) opt.strip_headers = {"Received", "X-Mailer"};
    if (knobs & 2) opt.rewrite_from_to = "acct@example.com";
    if (knobs & 4) opt.max_header_bytes = 64;
    const std::string stored = with_final_crlf(normalize_line_ends(raw));
    const std::string filtered = protocol::filter_message(stored, opt);
    if (!crlf_only(filtered)) return "the filter made a bare CR or LF";
    protocol::MessageFilter pieces(opt);
    std::string out;
    const std::size_t cut = stored.empty() ? 0 : knobs % stored.size();
    pieces.feed(std::string_view(stored).substr(0, cut), out);
    pieces.feed(std::string_view(stored).substr(cut), out);
    pieces.finish(out);
    if (out != filtered) return "the filter depends on how its input is split";
    std::string why = check_wire(stuff_in_pieces(filtered, knobs >> 3), with_final_crlf(filtered));
    if (!why.empty()) return "filtered: " + why;
    why = check_wire(stuff_in_pieces(raw, knobs >> 5), with_final_crlf(normalize_line_ends(raw)));
    if (!why.empty()) return "raw: " + why;
    return "";
}

}  // namespace rp::fuzz
