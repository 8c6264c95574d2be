// Header filtering (strip_headers, From rewrite) and dot-stuffing, streaming
// (see message_filter.hpp). The header block is buffered whole because a
// Reply-To can only be added once we know the message has none.
#include "protocol/message_filter.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/ascii.hpp"

namespace rp::protocol {
namespace {

using ascii::iequals;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

// Where the line end at `i` (a CR or LF) finishes: CRLF, a bare LF and a bare
// CR are each one line end, as the DotStuffer sends them (all as CRLF), so
// the filter sees the lines the upstream will see. npos: a CR at the end of
// the buffer (is it a CRLF? wait for the next byte).
std::size_t after_line_end(std::string_view buf, std::size_t i) {
    if (buf[i] == '\n') return i + 1;
    if (i + 1 >= buf.size()) return std::string_view::npos;
    return buf[i + 1] == '\n' ? i + 2 : i + 1;
}

// Offset just past the empty line that ends the header block, searching
// lines that start at or after `from`; npos when not there yet.
std::size_t header_end(std::string_view buf, std::size_t from) {
    std::size_t line = from;
    while (line < buf.size()) {
        if (buf[line] == '\r' || buf[line] == '\n') return after_line_end(buf, line);
        std::size_t brk = buf.find_first_of("\r\n", line);
        if (brk == std::string_view::npos) return std::string_view::npos;
        line = after_line_end(buf, brk);
    }
    return std::string_view::npos;
}

// One header field with its continuation lines, line ends included.
struct Field {
    std::string_view raw;
    std::string_view name() const {
        auto colon = raw.find(':');
        if (colon == std::string_view::npos || raw.empty() || raw[0] == ' ' || raw[0] == '\t') return {};
        return trim(raw.substr(0, colon));
    }
    std::string_view value_raw() const { return raw.substr(raw.find(':') + 1); }  // after the colon
    std::string_view eol() const {
        return raw.size() >= 2 && raw.substr(raw.size() - 2) == "\r\n" ? std::string_view("\r\n")
                                                                       : std::string_view("\n");
    }
};

std::vector<Field> split_fields(std::string_view block) {
    std::vector<Field> fields;
    std::size_t start = 0, pos = 0;
    while (pos < block.size()) {
        std::size_t brk = block.find_first_of("\r\n", pos);
        std::size_t next = brk == std::string_view::npos ? block.size() : after_line_end(block, brk);
        if (next == std::string_view::npos) next = block.size();  // a final CR: the block's last line end
        bool continuation = next < block.size() && (block[next] == ' ' || block[next] == '\t');
        pos = next;
        if (!continuation) {
            fields.push_back(Field{block.substr(start, pos - start)});
            start = pos;
        }
    }
    return fields;
}

std::string unfold(std::string_view raw) {
    std::string out;
    for (char c : raw)
        if (c != '\r' && c != '\n') out.push_back(c);
    return out;
}

// The address in a From value: inside the last <...>, else the whole value.
std::string from_address(const Field& from) {
    std::string value(trim(unfold(from.value_raw())));
    auto lt = value.rfind('<');
    if (lt == std::string::npos) return value;
    auto gt = value.find('>', lt);
    return value.substr(lt + 1, gt == std::string::npos ? std::string::npos : gt - lt - 1);
}

// "Billing <a@b>" -> "Billing <account>"; "a@b" -> "account".
std::string rewritten_from(const Field& from, std::string_view account) {
    const std::string unfolded = unfold(from.value_raw());
    std::string_view value = trim(unfolded);
    std::string out = "From: ";
    auto lt = value.rfind('<');
    if (lt != std::string_view::npos) {
        std::string_view display = trim(value.substr(0, lt));
        if (!display.empty()) {
            out.append(display);
            out.push_back(' ');
        }
        out.append("<").append(account).append(">");
    } else {
        out.append(account);
    }
    out.append(from.eol());
    return out;
}

}  // namespace

MessageFilter::MessageFilter(MessageFilterOptions options) : options_(std::move(options)) {
    in_body_ = passthrough();
}

bool MessageFilter::passthrough() const {
    return options_.strip_headers.empty() && options_.rewrite_from_to.empty();
}

void MessageFilter::feed(std::string_view bytes, std::string& out) {
    if (in_body_) {
        out.append(bytes);
        return;
    }
    // Re-scan from the start of the last (possibly partial) line: the empty
    // line may straddle the chunk edge.
    std::size_t scan_from = header_.rfind('\n');
    scan_from = scan_from == std::string::npos ? 0 : scan_from + 1;
    header_.append(bytes);
    std::size_t end = header_end(header_, scan_from);
    if (end != std::string::npos && end <= options_.max_header_bytes) {
        std::string rest = header_.substr(end);
        header_.resize(end);
        flush_headers(out);
        out.append(rest);
        return;
    }
    if (header_.size() > options_.max_header_bytes) {  // not a header block we can handle: pass it on
        out.append(header_);
        header_.clear();
        in_body_ = true;
    }
}

void MessageFilter::finish(std::string& out) {
    if (in_body_) return;
    if (header_.size() > options_.max_header_bytes) {
        out.append(header_);
        header_.clear();
        in_body_ = true;
        return;
    }
    flush_headers(out);
}

void MessageFilter::flush_headers(std::string& out) {
    std::vector<Field> fields = split_fields(header_);
    std::vector<std::string> kept;
    std::size_t from_at = std::string::npos;
    std::string reply_to;
    bool has_reply_to = false;
    const bool rewrite = !options_.rewrite_from_to.empty();
    for (const Field& f : fields) {
        std::string_view name = f.name();
        bool strip =
            !name.empty() && std::any_of(options_.strip_headers.begin(), options_.strip_headers.end(),
                                         [&](const std::string& s) { return iequals(s, name); });
        if (strip) continue;
        if (iequals(name, "Reply-To")) has_reply_to = true;
        if (rewrite && iequals(name, "From")) {
            // Already the account's address: a Reply-To would only repeat it.
            if (from_at == std::string::npos && !iequals(from_address(f), options_.rewrite_from_to)) {
                from_at = kept.size();
                reply_to = "Reply-To:" + std::string(f.value_raw());
                if (reply_to.back() != '\n') reply_to.append(f.eol());
            }
            kept.push_back(rewritten_from(f, options_.rewrite_from_to));
            continue;
        }
        kept.emplace_back(f.raw);
    }
    if (rewrite && from_at != std::string::npos && !has_reply_to)
        kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(from_at) + 1, std::move(reply_to));
    for (const auto& k : kept) out.append(k);
    header_.clear();
    in_body_ = true;
}

std::string filter_message(std::string_view message, const MessageFilterOptions& options) {
    MessageFilter filter(options);
    std::string out;
    filter.feed(message, out);
    filter.finish(out);
    return out;
}

// One pass over spans between CR/LF bytes. Every CR, LF or CRLF becomes one
// CRLF, so "line start" means the same thing here as for any receiver.
void DotStuffer::feed(std::string_view bytes, std::string& out) {
    std::size_t pos = 0;
    if (pending_cr_ && !bytes.empty()) {
        pending_cr_ = false;
        line_end(out);
        if (bytes[0] == '\n') pos = 1;  // it was a CRLF after all
    }
    while (pos < bytes.size()) {
        if (at_line_start_ && bytes[pos] == '.') out.push_back('.');
        const std::size_t brk = bytes.find_first_of("\r\n", pos);
        const std::size_t end = brk == std::string_view::npos ? bytes.size() : brk;
        if (end > pos) {
            out.append(bytes.substr(pos, end - pos));
            at_line_start_ = false;
        }
        if (brk == std::string_view::npos) return;
        if (bytes[brk] == '\r' && brk + 1 == bytes.size()) {
            pending_cr_ = true;  // CRLF split across feeds, or a bare CR: the next byte tells
            return;
        }
        line_end(out);
        pos = brk + 1;
        if (bytes[brk] == '\r' && bytes[pos] == '\n') ++pos;
    }
}

void DotStuffer::line_end(std::string& out) {
    out.append("\r\n");
    at_line_start_ = true;
}

void DotStuffer::finish(std::string& out) {
    if (pending_cr_) line_end(out);
    out.append(at_line_start_ ? ".\r\n" : "\r\n.\r\n");
    at_line_start_ = true;
    pending_cr_ = false;
}

std::string dot_stuff(std::string_view message) {
    DotStuffer stuffer;
    std::string out;
    stuffer.feed(message, out);
    stuffer.finish(out);
    return out;
}

}  // namespace rp::protocol
