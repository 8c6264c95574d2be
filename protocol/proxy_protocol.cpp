// PROXY protocol v1/v2 parser (see proxy_protocol.hpp).
#include "protocol/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>

namespace rp::protocol {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<char, 12> kV2Signature = {'\r', '\n', '\r', '\n', '\0', '\r',
                                               '\n', 'Q',  'U',  'I',  'T',  '\n'};

ProxyParseResult fail(std::string reason) {
    ProxyParseResult r;
    r.status = ProxyStatus::error;
    r.error = std::move(reason);
    return r;
}

ProxyParseResult need_more() {
    return ProxyParseResult{};
}

std::string ipv4_text(const unsigned char* b) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

// RFC 5952 text: lower-case hex, the longest run (>= 2) of zero groups as "::".
std::string ipv6_text(const unsigned char* b) {
    std::array<unsigned, 8> g{};
    for (int i = 0; i < 8; ++i) g[i] = (unsigned(b[2 * i]) << 8) | b[2 * i + 1];
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0) ++j;
        if (j - i > best_len && j - i >= 2) best = i, best_len = j - i;
        i = j;
    }
    std::string out;
    char buf[8];
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':') out += ':';
        std::snprintf(buf, sizeof buf, "%x", g[i]);
        out += buf;
    }
    return out;
}

std::optional<std::array<unsigned char, 4>> parse_ipv4(std::string_view t) {
    std::array<unsigned char, 4> out{};
    for (int part = 0; part < 4; ++part) {
        std::size_t n = 0;
        unsigned v = 0;
        while (n < t.size() && n < 3 && t[n] >= '0' && t[n] <= '9') v = v * 10 + unsigned(t[n++] - '0');
        if (n == 0 || v > 255 || (n > 1 && t[0] == '0')) return std::nullopt;
        out[part] = static_cast<unsigned char>(v);
        t.remove_prefix(n);
        if (part < 3) {
            if (t.empty() || t[0] != '.') return std::nullopt;
            t.remove_prefix(1);
        }
    }
    if (!t.empty()) return std::nullopt;
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Full IPv6 text parser (groups, one "::", optional trailing dotted quad).
std::optional<std::array<unsigned char, 16>> parse_ipv6(std::string_view t) {
    std::array<unsigned, 8> head{}, tail{};
    int nh = 0, nt = 0;
    bool compressed = false;
    if (t.substr(0, 2) == "::") {
        compressed = true;
        t.remove_prefix(2);
    } else if (!t.empty() && t[0] == ':') {
        return std::nullopt;
    }
    while (!t.empty()) {
        auto& groups = compressed ? tail : head;
        int& n = compressed ? nt : nh;
        if (nh + nt >= 8) return std::nullopt;
        const std::size_t colon = t.find(':');
        std::string_view group = t.substr(0, colon);
        if (colon == std::string_view::npos && group.find('.') != std::string_view::npos) {
            auto v4 = parse_ipv4(group);
            if (!v4 || nh + nt > 6) return std::nullopt;
            groups[n++] = (unsigned((*v4)[0]) << 8) | (*v4)[1];
            groups[n++] = (unsigned((*v4)[2]) << 8) | (*v4)[3];
            t = {};
            break;
        }
        if (group.empty() || group.size() > 4) return std::nullopt;
        unsigned v = 0;
        for (char c : group) {
            int h = hex_value(c);
            if (h < 0) return std::nullopt;
            v = v * 16 + unsigned(h);
        }
        groups[n++] = v;
        if (colon == std::string_view::npos) break;
        t.remove_prefix(colon + 1);
        if (!t.empty() && t[0] == ':') {
            if (compressed) return std::nullopt;
            compressed = true;
            t.remove_prefix(1);
        } else if (t.empty()) {
            return std::nullopt;  // trailing single colon
        }
    }
    if (compressed ? nh + nt > 7 : nh != 8) return std::nullopt;
    std::array<unsigned, 8> g{};
    for (int i = 0; i < nh; ++i) g[i] = head[i];
    for (int i = 0; i < nt; ++i) g[8 - nt + i] = tail[i];
    std::array<unsigned char, 16> out{};
    for (int i = 0; i < 8; ++i) {
        out[2 * i] = static_cast<unsigned char>(g[i] >> 8);
        out[2 * i + 1] = static_cast<unsigned char>(g[i] & 0xFF);
    }
    return out;
}

std::optional<std::uint16_t> parse_port(std::string_view t) {
    if (t.empty() || t.size() > 5 || (t.size() > 1 && t[0] == '0')) return std::nullopt;
    unsigned v = 0;
    for (char c : t) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + unsigned(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

ProxyParseResult parse_v1_line(std::string_view line, std::size_t consumed) {
    ProxyParseResult r;
    r.status = ProxyStatus::done;
    r.consumed = consumed;
    r.header.version = 1;
    std::string_view rest = line.substr(kV1Prefix.size());
    if (rest == "UNKNOWN" || rest.substr(0, 8) == "UNKNOWN ") {
        r.header.local = true;  // "the receiver must ignore anything after UNKNOWN"
        return r;
    }
    std::array<std::string_view, 5> f;
    for (std::size_t i = 0; i < f.size(); ++i) {
        const std::size_t sp = rest.find(' ');
        if ((i + 1 < f.size()) == (sp == std::string_view::npos)) return fail("v1: wrong field count");
        f[i] = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
    auto sport = parse_port(f[3]), dport = parse_port(f[4]);
    if (!sport || !dport) return fail("v1: bad port");
    if (f[0] == "TCP4") {
        auto s = parse_ipv4(f[1]), d = parse_ipv4(f[2]);
        if (!s || !d) return fail("v1: bad IPv4 address");
        r.header.family = ProxyFamily::tcp4;
        r.header.src_addr = ipv4_text(s->data());
        r.header.dst_addr = ipv4_text(d->data());
    } else if (f[0] == "TCP6") {
        auto s = parse_ipv6(f[1]), d = parse_ipv6(f[2]);
        if (!s || !d) return fail("v1: bad IPv6 address");
        r.header.family = ProxyFamily::tcp6;
        r.header.src_addr = ipv6_text(s->data());
        r.header.dst_addr = ipv6_text(d->data());
    } else {
        return fail("v1: bad protocol");
    }
    r.header.src_port = *sport;
    r.header.dst_port = *dport;
    return r;
}

ProxyParseResult parse_v1(std::string_view in) {
    // The CR of a 107-octet line is at index 105: a longer line is known to
    // be too long as soon as 106 octets contain no CR.
    const std::size_t window = std::min(in.size(), kProxyV1MaxLine - 1);
    for (std::size_t i = 0; i < window; ++i) {
        const char c = in[i];
        if (c == '\r') {
            if (i + 1 >= in.size()) return need_more();
            if (in[i + 1] != '\n') return fail("v1: CR without LF");
            return parse_v1_line(in.substr(0, i), i + 2);
        }
        if (c < 0x20 || c > 0x7E) return fail("v1: invalid character");
    }
    if (in.size() >= kProxyV1MaxLine - 1) return fail("v1: line too long");
    return need_more();
}

std::uint16_t be16(const unsigned char* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

bool parse_tlvs(const unsigned char* p, std::size_t n, std::vector<ProxyTlv>& out) {
    while (n > 0) {
        if (n < 3) return false;
        const std::size_t len = be16(p + 1);
        if (len > n - 3) return false;
        out.push_back(ProxyTlv{p[0], std::string(reinterpret_cast<const char*>(p + 3), len)});
        p += 3 + len;
        n -= 3 + len;
    }
    return true;
}

ProxyParseResult parse_v2(std::string_view in) {
    if (in.size() < 16) return need_more();
    const auto* b = reinterpret_cast<const unsigned char*>(in.data());
    if ((b[12] >> 4) != 2) return fail("v2: bad version");
    const unsigned command = b[12] & 0x0F;
    if (command > 1) return fail("v2: bad command");
    const std::size_t len = be16(b + 14);
    if (len > kProxyV2MaxPayload) return fail("v2: header too long");
    if (in.size() < 16 + len) return need_more();
    ProxyParseResult r;
    r.status = ProxyStatus::done;
    r.consumed = 16 + len;
    r.header.version = 2;
    const unsigned family = b[13] >> 4, transport = b[13] & 0x0F;
    if (command == 0) {  // LOCAL: health checks from the proxy itself
        r.header.local = true;
        return r;
    }
    if (family > 3 || transport > 2) return fail("v2: bad address family");
    if (family == 0) {  // UNSPEC: "the receiver must use the real connection addresses"
        r.header.local = true;
        return r;
    }
    if (transport != 1) return fail("v2: not a stream transport");
    const std::size_t addr_len = family == 1 ? 12 : family == 2 ? 36 : 216;
    if (len < addr_len) return fail("v2: address block truncated");
    const unsigned char* a = b + 16;
    if (family == 1) {
        r.header.family = ProxyFamily::tcp4;
        r.header.src_addr = ipv4_text(a);
        r.header.dst_addr = ipv4_text(a + 4);
        r.header.src_port = be16(a + 8);
        r.header.dst_port = be16(a + 10);
    } else if (family == 2) {
        r.header.family = ProxyFamily::tcp6;
        r.header.src_addr = ipv6_text(a);
        r.header.dst_addr = ipv6_text(a + 16);
        r.header.src_port = be16(a + 32);
        r.header.dst_port = be16(a + 34);
    } else {
        r.header.family = ProxyFamily::unix_stream;  // no IP: the driver uses the socket peer
    }
    if (!parse_tlvs(a + addr_len, len - addr_len, r.header.tlvs)) return fail("v2: malformed TLV");
    return r;
}

}  // namespace

ProxyParseResult parse_proxy_header(std::string_view buffered) {
    if (buffered.empty()) return need_more();
    const std::size_t v1n = std::min(buffered.size(), kV1Prefix.size());
    if (buffered.substr(0, v1n) == kV1Prefix.substr(0, v1n)) {
        if (buffered.size() < kV1Prefix.size()) return need_more();
        return parse_v1(buffered);
    }
    const std::size_t v2n = std::min(buffered.size(), kV2Signature.size());
    if (buffered.substr(0, v2n) == std::string_view(kV2Signature.data(), v2n)) return parse_v2(buffered);
    return fail("not a PROXY protocol header");
}

}  // namespace rp::protocol
