// SMTP path and mailbox parsing (RFC 5321 4.1.2, RFC 6531 for UTF-8).
//
// parse_path() takes what follows "MAIL FROM:" / "RCPT TO:" up to (not
// including) the ESMTP parameters, i.e. "<local@domain>", "<>", or
// "<@relay1,@relay2:local@domain>" (the source route is checked and ignored,
// RFC 5321 4.1.1.3 / C). Invariants: the result's `address` is the mailbox
// exactly as written (quoted local parts keep their quotes), never contains
// CR, LF or NUL, nor SP or angle brackets outside a quoted local part, and
// "<" + address + ">" parses back to it; it is at most 254 octets;
// non-ASCII bytes appear only when `utf8` is true and are valid UTF-8.
// Pure; used by protocol/smtp_command.cpp and by tests/fuzz.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rp::protocol {

inline constexpr std::size_t kMaxPathLength = 256;  // RFC 5321 4.5.3.1.3, with brackets

enum class AddressError {
    none,
    syntax,     // not a valid path
    too_long,   // path longer than kMaxPathLength
    non_ascii,  // UTF-8 where SMTPUTF8 was not given (the caller decides)
    bad_utf8,   // bytes >= 0x80 that are not well-formed UTF-8
};

struct PathResult {
    AddressError error = AddressError::none;
    bool null_path = false;    // "<>"
    bool utf8 = false;         // the mailbox contains non-ASCII (valid UTF-8)
    std::string address;       // "local@domain", "" for <>
    std::string local_part;    // as written
    std::string domain;        // as written (a domain or an [address-literal])
    std::size_t consumed = 0;  // octets of `text` that form the path
    bool ok() const { return error == AddressError::none; }
};

// Parses the path at the start of `text`; `consumed` says where it ended
// (the caller then expects the end of the line or SP and parameters).
// `allow_null`: "<>" is valid (reverse-path). `allow_utf8`: non-ASCII is
// accepted; otherwise a valid UTF-8 mailbox gives AddressError::non_ascii.
// A mailbox without angle brackets ("user@example.com", ending at SP or the
// end) is accepted, as Postfix and most servers do for broken clients.
PathResult parse_path(std::string_view text, bool allow_null, bool allow_utf8);

// A whole mailbox ("local@domain"), nothing before or after; same rules.
PathResult parse_mailbox(std::string_view text, bool allow_utf8);

// Length of a well-formed UTF-8 sequence starting at s[0], or 0.
std::size_t utf8_sequence_length(std::string_view s);
bool is_valid_utf8(std::string_view s);

}  // namespace rp::protocol
