// PROXY protocol header parser, versions 1 (text) and 2 (binary), per the
// HAProxy specification (doc/proxy-protocol.txt). Strict and bounded.
//
// Usage (server/ driver on a proxy_protocol: true listener): accumulate the
// first bytes of the connection and call parse_proxy_header(buffer) after
// every read until the status is not need_more. On `done`, `consumed` bytes
// are the header; the rest of the buffer is SMTP and goes to
// ServerSession::feed(). On `error`, close the connection (log at debug).
//
// Invariants: never reads past the view; never asks for more than
// kProxyMaxHeader bytes in total (a v1 line without CRLF within 107 octets,
// or a v2 length above kProxyV2MaxPayload, is an error, not need_more); a
// prefix that can no longer become a valid signature is an error at once.
// Pure function, no state: used by server/ and tests/fuzz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rp::protocol {

inline constexpr std::size_t kProxyV1MaxLine = 107;      // including CRLF
inline constexpr std::size_t kProxyV2MaxPayload = 4096;  // our bound on the v2 length field
inline constexpr std::size_t kProxyMaxHeader = 16 + kProxyV2MaxPayload;

enum class ProxyStatus { need_more, done, error };

enum class ProxyFamily { unspecified, tcp4, tcp6, unix_stream };

struct ProxyTlv {
    std::uint8_t type = 0;
    std::string value;
};

struct ProxyHeader {
    int version = 0;     // 1 or 2
    bool local = false;  // v2 LOCAL command / v1 UNKNOWN: use the real peer address
    ProxyFamily family = ProxyFamily::unspecified;
    std::string src_addr;  // textual IP ("192.0.2.1", "2001:db8::1"), "" when local/unknown
    std::string dst_addr;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::vector<ProxyTlv> tlvs;  // v2 only, in order
};

struct ProxyParseResult {
    ProxyStatus status = ProxyStatus::need_more;
    std::size_t consumed = 0;  // header length when done
    ProxyHeader header;        // valid when done
    std::string error;         // short reason when error (safe to log)
};

ProxyParseResult parse_proxy_header(std::string_view buffered);

}  // namespace rp::protocol
