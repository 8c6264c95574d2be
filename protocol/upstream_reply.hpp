// Replies of the upstream SMTP server, parsed incrementally (the client side of
// RFC 5321 4.2), and the EHLO capability list (RFC 5321 4.1.1.1 + extensions).
//
// Invariants: UpstreamReplyParser takes bytes in arbitrary pieces and yields
// complete replies in order; it never holds more than one partial line of
// max_line bytes and max_lines lines per reply, so a hostile upstream cannot
// grow it without bound. A malformed line makes the parser fail for good
// (the session is then unusable: the client closes it).
// Pure: used by protocol/client_session and its tests; relay/ only through
// the session.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rp::protocol {

// One complete (possibly multi-line) upstream reply.
struct UpstreamReply {
    int code = 0;                    // 200..599 (100..599 accepted by the parser)
    std::string enhanced;            // RFC 3463 "5.4.5" from the first line, or ""
    std::vector<std::string> lines;  // text after "250-" / "250 ", enhanced status removed;
                                     // control bytes but HT replaced by '?' (no CR, LF, NUL)

    // Lines joined with ' ' (UpstreamOutcome::text).
    std::string text() const;
    bool positive() const { return code >= 200 && code < 300; }
    bool intermediate() const { return code >= 300 && code < 400; }
};

enum class ReplyParseStatus { need_more, reply, error };

class UpstreamReplyParser {
  public:
    static constexpr std::size_t default_max_line = 4096;  // RFC says 512; be lenient
    static constexpr std::size_t default_max_lines = 200;  // long EHLO lists, Gmail's 5-line texts

    explicit UpstreamReplyParser(std::size_t max_line = default_max_line,
                                 std::size_t max_lines = default_max_lines);

    // Appends bytes to the internal buffer (bounded: see error()).
    void feed(std::string_view bytes);

    // Extracts the next complete reply. need_more: no complete reply buffered;
    // error: the input is not SMTP (see error()); sticky.
    ReplyParseStatus next(UpstreamReply& out);

    // Bytes received but not yet consumed by next() (STARTTLS injection check).
    std::size_t buffered() const { return buffer_.size() - pos_; }
    const std::string& error() const { return error_; }

  private:
    ReplyParseStatus fail(std::string why);

    std::size_t max_line_;
    std::size_t max_lines_;
    std::string buffer_;
    std::size_t pos_ = 0;  // start of the first unconsumed line
    UpstreamReply partial_;
    bool in_reply_ = false;
    std::string error_;
};

// The EHLO keywords relaypool uses (case-insensitive on the wire).
struct EhloCapabilities {
    std::optional<std::uint64_t> size;  // SIZE n (0 = no fixed limit); absent when not offered
    bool pipelining = false;
    bool chunking = false;
    bool eightbitmime = false;
    bool smtputf8 = false;
    bool starttls = false;
    bool enhanced_status_codes = false;
    bool dsn = false;
    std::vector<std::string> auth;  // mechanisms, upper-cased ("PLAIN", "LOGIN", "XOAUTH2")

    bool offers_auth(std::string_view mechanism) const;  // case-insensitive
};

// Parses the lines of a 250 EHLO reply (the first line is the greeting name).
// Unknown keywords are ignored; "AUTH=LOGIN" (old form) counts as AUTH.
EhloCapabilities parse_ehlo(const UpstreamReply& reply);

}  // namespace rp::protocol
