// DATA reader state machine (see data_reader.hpp). One byte at a time; the
// common case (inside a line) appends runs of plain bytes in bulk.
#include "protocol/data_reader.hpp"

#include <algorithm>

namespace rp::protocol {

void DataReader::end_line(std::string& out, State next) {
    out += "\r\n";
    longest_line_ = std::max(longest_line_, line_length_);
    line_length_ = 0;
    state_ = next;
}

// A byte inside a line (state in_line).
void DataReader::content(char c, std::string& out) {
    if (c == '\r') {
        state_ = State::cr;
    } else if (c == '\n') {
        end_line(out, State::line_start_lf);  // bare LF: normalised to CRLF
    } else {
        out += c;
        ++line_length_;
        state_ = State::in_line;
    }
}

// The first byte of a line that follows a bare CR or bare LF: a leading dot
// is unstuffed, but nothing here can end the data.
void DataReader::after_bare_line_end(char c, std::string& out) {
    if (c == '.') {
        state_ = State::in_line;
        ++line_length_;
    } else {
        content(c, out);
    }
}

std::size_t DataReader::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && state_ != State::done) {
        const char c = in[i];
        switch (state_) {
            case State::line_start_crlf:
                if (c == '.') {
                    state_ = State::dot_crlf;
                    ++line_length_;
                } else {
                    content(c, out);
                }
                break;
            case State::line_start_lf:
                after_bare_line_end(c, out);
                break;
            case State::dot_crlf:
                if (c == '\r') {
                    state_ = State::dot_cr_crlf;
                } else {
                    content(c, out);  // the dot is dropped (unstuffing)
                }
                break;
            case State::dot_cr_crlf:
                if (c == '\n') {
                    state_ = State::done;
                } else {
                    // ".\r" + other: the dot is dropped, the bare CR ends the line.
                    end_line(out, State::line_start_lf);
                    after_bare_line_end(c, out);
                }
                break;
            case State::in_line: {
                // Fast path: copy the run up to the next CR or LF.
                const std::size_t end = in.find_first_of("\r\n", i);
                const std::size_t stop = end == std::string_view::npos ? in.size() : end;
                out.append(in.substr(i, stop - i));
                line_length_ += stop - i;
                i = stop;
                if (i < in.size())
                    content(in[i], out);
                else
                    continue;
                break;
            }
            case State::cr:
                if (c == '\n') {
                    end_line(out, State::line_start_crlf);
                } else {
                    end_line(out, State::line_start_lf);  // bare CR: normalised to CRLF
                    after_bare_line_end(c, out);
                }
                break;
            case State::done:
                break;
        }
        ++i;
    }
    return i;
}

}  // namespace rp::protocol
