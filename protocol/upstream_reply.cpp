// Incremental upstream reply parser and EHLO capability parsing (see
// upstream_reply.hpp). Lenient where harmless (bare LF line ends, a missing
// enhanced status), strict where it matters (3-digit codes, one code per
// reply, bounded lines).
#include "protocol/upstream_reply.hpp"

#include "protocol/ascii.hpp"

namespace rp::protocol {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Length of an RFC 3463 status ("5.4.5", "4.7.14") at the start of `s`, with
// the class digit 2, 4 or 5 and a space or the end after it; 0 when absent.
std::size_t enhanced_length(std::string_view s) {
    if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        std::size_t digits = 0;
        while (i < s.size() && is_digit(s[i]) && digits < 3) ++i, ++digits;
        if (digits == 0) return 0;
        if (part == 0) {
            if (i >= s.size() || s[i] != '.') return 0;
            ++i;
        }
    }
    if (i < s.size() && s[i] != ' ') return 0;
    return i;
}

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        std::size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
        if (i > start) out.emplace_back(s.substr(start, i - start));
    }
    return out;
}

// A reply line's text with control bytes (a bare CR, NUL, ...; not HT) as
// '?': reply texts end up in logs, state files, the admin API and DSNs, and
// every consumer may rely on them holding no line end (found by
// fuzz_delivery_outcome: "250 OK \0)x\rp" reached describe()).
std::string printable(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
    return out;
}

}  // namespace

std::string UpstreamReply::text() const {
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i) out.push_back(' ');
        out += lines[i];
    }
    return out;
}

UpstreamReplyParser::UpstreamReplyParser(std::size_t max_line, std::size_t max_lines)
    : max_line_(max_line), max_lines_(max_lines) {}

void UpstreamReplyParser::feed(std::string_view bytes) {
    if (!error_.empty()) return;
    // Drop consumed lines before growing, so the buffer stays ~one read large.
    if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
        buffer_.erase(0, pos_);
        pos_ = 0;
    }
    buffer_.append(bytes);
}

ReplyParseStatus UpstreamReplyParser::fail(std::string why) {
    error_ = std::move(why);
    in_reply_ = false;
    return ReplyParseStatus::error;
}

ReplyParseStatus UpstreamReplyParser::next(UpstreamReply& out) {
    if (!error_.empty()) return ReplyParseStatus::error;
    for (;;) {
        std::size_t nl = buffer_.find('\n', pos_);
        if (nl == std::string::npos) {
            if (buffered() > max_line_ + 1) return fail("reply line too long");
            return ReplyParseStatus::need_more;
        }
        std::string_view line(buffer_.data() + pos_, nl - pos_);
        pos_ = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.size() > max_line_) return fail("reply line too long");
        if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
            line[0] < '2' || line[0] > '5')
            return fail("malformed reply line");
        if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return fail("malformed reply line");
        const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        const bool last = line.size() == 3 || line[3] == ' ';
        std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view{};

        if (!in_reply_) {
            partial_ = UpstreamReply{};
            partial_.code = code;
            in_reply_ = true;
        } else if (code != partial_.code) {
            return fail("reply code changed within a multi-line reply");
        }
        if (partial_.lines.size() >= max_lines_) return fail("too many reply lines");
        if (std::size_t n = enhanced_length(text); n > 0 && text[0] - '0' == code / 100) {
            if (partial_.lines.empty()) partial_.enhanced = std::string(text.substr(0, n));
            text.remove_prefix(n < text.size() ? n + 1 : n);
        }
        partial_.lines.emplace_back(printable(text));
        if (last) {
            in_reply_ = false;
            out = std::move(partial_);
            partial_ = UpstreamReply{};
            return ReplyParseStatus::reply;
        }
    }
}

bool EhloCapabilities::offers_auth(std::string_view mechanism) const {
    const std::string want = ascii::upper(mechanism);
    for (const auto& m : auth)
        if (m == want) return true;
    return false;
}

EhloCapabilities parse_ehlo(const UpstreamReply& reply) {
    EhloCapabilities caps;
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        auto ws = split_words(reply.lines[i]);
        if (ws.empty()) continue;
        std::string keyword = ascii::upper(ws[0]);
        if (keyword.rfind("AUTH=", 0) == 0) {  // pre-RFC 4954 form: "AUTH=LOGIN PLAIN"
            ws[0] = keyword.substr(5);
            keyword = "AUTH";
            ws.insert(ws.begin(), keyword);
        }
        if (keyword == "PIPELINING")
            caps.pipelining = true;
        else if (keyword == "CHUNKING")
            caps.chunking = true;
        else if (keyword == "8BITMIME")
            caps.eightbitmime = true;
        else if (keyword == "SMTPUTF8")
            caps.smtputf8 = true;
        else if (keyword == "STARTTLS")
            caps.starttls = true;
        else if (keyword == "ENHANCEDSTATUSCODES")
            caps.enhanced_status_codes = true;
        else if (keyword == "DSN")
            caps.dsn = true;
        else if (keyword == "SIZE") {
            std::uint64_t n = 0;
            bool ok = ws.size() < 2 || !ws[1].empty();
            if (ws.size() >= 2) {
                for (char c : ws[1]) {
                    if (!is_digit(c) || n > (UINT64_MAX - 9) / 10) {
                        ok = false;
                        break;
                    }
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
            }
            if (ok) caps.size = n;
        } else if (keyword == "AUTH") {
            for (std::size_t k = 1; k < ws.size(); ++k) {
                std::string m = ascii::upper(ws[k]);
                if (!m.empty() && !caps.offers_auth(m)) caps.auth.push_back(std::move(m));
            }
        }
    }
    return caps;
}

}  // namespace rp::protocol
