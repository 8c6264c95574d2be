// BDAT line-end normaliser (see line_ends.hpp).
#include "protocol/line_ends.hpp"

namespace rp::protocol {

void LineEndNormalizer::feed(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size() + 2);
    std::size_t i = 0;
    if (pending_cr_ && !in.empty()) {
        out += "\r\n";  // CRLF split across calls, or a bare CR: CRLF either way
        pending_cr_ = false;
        if (in[0] == '\n') i = 1;
    }
    while (i < in.size()) {
        // Copy the run of ordinary octets at once.
        std::size_t end = in.find_first_of("\r\n", i);
        if (end == std::string_view::npos) {
            out.append(in.substr(i));
            return;
        }
        out.append(in.substr(i, end - i));
        out += "\r\n";
        if (in[end] == '\n') {  // bare LF
            i = end + 1;
        } else if (end + 1 == in.size()) {  // CR at the end: decided by the next byte
            out.resize(out.size() - 2);
            pending_cr_ = true;
            return;
        } else {  // CRLF, or a bare CR followed by something else
            i = in[end + 1] == '\n' ? end + 2 : end + 1;
        }
    }
}

void LineEndNormalizer::finish(std::string& out) {
    if (pending_cr_) out += "\r\n";
    pending_cr_ = false;
}

}  // namespace rp::protocol
