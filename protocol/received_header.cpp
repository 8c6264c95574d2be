// Received: header builder (see received_header.hpp).
#include "protocol/received_header.hpp"

namespace rp::protocol {
namespace {

constexpr std::size_t kMaxField = 200;  // keeps every folded line far below 998

// Printable ASCII only; inside a comment "(", ")" and "\" are quoted-pairs.
std::string sanitize(std::string_view in, bool comment) {
    std::string out;
    for (char c : in.substr(0, kMaxField)) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u > 0x7E) {
            if (u >= 0x80) out += '?';
            continue;
        }
        if (comment && (c == '(' || c == ')' || c == '\\')) out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string build_received_header(const ReceivedInfo& info) {
    const std::string helo = sanitize(info.helo, false);
    std::string out = "Received: from ";
    out += helo.empty() ? "unknown" : helo;
    out += " ([";
    // An IPv6 address literal is written "IPv6:..." (RFC 5321 4.1.3).
    std::string addr = sanitize(info.client_addr, true);
    if (addr.find(':') != std::string::npos) addr = "IPv6:" + addr;
    out += addr;
    out += "])\r\n\tby ";
    out += sanitize(info.hostname, false);
    out += " (relaypool) with ";
    out += info.protocol.empty() ? std::string("ESMTP") : sanitize(info.protocol, false);
    if (!info.tls_version.empty()) {
        out += "\r\n\t(version=";
        out += sanitize(info.tls_version, true);
        if (!info.tls_cipher.empty()) {
            out += " cipher=";
            out += sanitize(info.tls_cipher, true);
        }
        out += ')';
    }
    out += ";\r\n\t";
    // The date is ours (the driver's clock), but keep it to one clean line.
    for (char c : info.date.substr(0, kMaxField)) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u <= 0x7E) out += c;
    }
    out += "\r\n";
    return out;
}

}  // namespace rp::protocol
