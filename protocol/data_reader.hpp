// DATA content reader (RFC 5321 4.1.1.4 and 4.5.2): finds the end of data
// and undoes dot-stuffing, across arbitrary buffer boundaries.
//
// Invariants (hold for any split of the input into feed() calls):
// - Only <CRLF>.<CRLF> ends the data; the leading CRLF may be the line end
//   of the DATA command itself (the reader starts "at the start of a line").
//   "\n.\n", "\r.\n", "\n.\r\n", "\r.\r\n" and ".\n" are content (SMTP
//   smuggling defence).
// - Output line ends are CRLF: a bare LF or a bare CR becomes CRLF (Postfix
//   3.9 "normalize"), so no bare CR or LF is stored or relayed.
// - A line that starts with "." (after CRLF, a bare LF or a bare CR) loses that dot
//   (a conforming client stuffed it). A lone "." line that does not end the
//   data (".\n", or after a bare LF) therefore becomes an empty line.
// - The terminating ".\r\n" and the CRLF before it belong to the protocol:
//   the output ends with the CRLF of the last content line.
// - State is O(1); feed() never looks ahead beyond its input.
// Pure; used by ServerSession and tests/fuzz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rp::protocol {

class DataReader {
  public:
    // Consumes bytes of `in` up to and including the end-of-data marker (or
    // all of them), appending content to `out`. Returns the number of bytes
    // consumed; bytes after the marker are left for the command parser.
    std::size_t feed(std::string_view in, std::string& out);

    bool done() const { return state_ == State::done; }
    std::uint64_t longest_line() const { return longest_line_; }  // raw octets, without line end
    void reset() { *this = DataReader{}; }

  private:
    enum class State {
        line_start_crlf,  // after CRLF (or at the start): ".\r\n" here ends the data
        line_start_lf,    // after a bare LF or CR: a line, but ".\r\n" here is content
        dot_crlf,         // "." at a line_start_crlf
        dot_cr_crlf,      // ".\r" at a line_start_crlf
        in_line,
        cr,  // CR inside a line
        done,
    };
    void end_line(std::string& out, State next);
    void content(char c, std::string& out);
    void after_bare_line_end(char c, std::string& out);

    State state_ = State::line_start_crlf;
    std::uint64_t line_length_ = 0;
    std::uint64_t longest_line_ = 0;
};

}  // namespace rp::protocol
