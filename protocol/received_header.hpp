// Builder of the Received: trace header (RFC 5321 4.4, RFC 3848 "with"
// keywords) that the server prepends to every accepted message.
//
// Pure: everything comes from the caller (the driver), including the date
// string (RFC 5322 date-time) and the TLS version/cipher names. The queue id
// is not known before commit, so it is not part of the header.
// Invariants: the result is "Received: ...\r\n" with folded continuation
// lines (each starts with a TAB), contains no bare CR/LF, no control
// characters, and every line stays under 998 octets; untrusted values (HELO,
// client address) are sanitised (controls dropped, parentheses and
// backslashes escaped inside comments, length capped).
// Used by server/.
#pragma once

#include <string>
#include <string_view>

namespace rp::protocol {

struct ReceivedInfo {
    std::string helo;         // the client's EHLO/HELO argument (untrusted)
    std::string client_addr;  // client IP (after PROXY protocol), e.g. "192.0.2.1" or "2001:db8::1"
    std::string hostname;     // our hostname
    std::string protocol;     // Envelope::protocol: SMTP, ESMTP, ESMTPA, ESMTPS, ESMTPSA
    std::string tls_version;  // e.g. "TLSv1.3", "" when no TLS
    std::string tls_cipher;   // e.g. "TLS_AES_256_GCM_SHA384", "" when no TLS
    std::string date;         // RFC 5322 date-time, e.g. "Wed, 25 Nov 2026 19:00:00 +0000"
};

// "Received: from <helo> ([<addr>])\r\n\tby <host> (relaypool) with <proto>
//  (<tls>)\r\n\t; <date>\r\n"
std::string build_received_header(const ReceivedInfo& info);

}  // namespace rp::protocol
