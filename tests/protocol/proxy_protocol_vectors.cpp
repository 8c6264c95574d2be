// PROXY protocol v1/v2 vectors (HAProxy doc/proxy-protocol.txt): TCP4,
// TCP6, UNKNOWN, LOCAL, TLVs, truncated input, oversize, bad signatures —
// and every prefix of a valid header must be need_more, never an error.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/proxy_protocol.hpp"

using namespace rp::protocol;
using namespace std::string_literals;

namespace {

const std::string kSig = "\r\n\r\n\0\r\nQUIT\n"s;

std::string v2(unsigned char ver_cmd, unsigned char fam, const std::string& payload) {
    std::string h = kSig;
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>((payload.size() >> 8) & 0xFF);
    h += static_cast<char>(payload.size() & 0xFF);
    return h + payload;
}

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += static_cast<char>(c);
    return s;
}

const std::string kV4Addr = bytes({192, 0, 2, 1, 198, 51, 100, 2, 0x30, 0x39, 0x02, 0x4B});  // 12345 -> 587
const std::string kV6Addr = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  //
                                   0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,  //
                                   0xff, 0xff, 0x01, 0xd1});

struct Good {
    std::string name;
    std::string input;
    std::size_t consumed;
    int version;
    bool local;
    ProxyFamily family;
    std::string src, dst;
    std::uint16_t sport, dport;
    std::size_t tlvs;
};

std::vector<Good> good_vectors() {
    return {
        {"v1 tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 12345 587\r\nEHLO x\r\n", 45, 1, false,
         ProxyFamily::tcp4, "192.0.2.1", "198.51.100.2", 12345, 587, 0},
        {"v1 tcp6", "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", 36, 1, false, ProxyFamily::tcp6, "2001:db8::1",
         "::1", 65535, 0, 0},
        {"v1 tcp6 full form", "PROXY TCP6 2001:0DB8:0:0:0:0:0:0001 ::ffff:192.0.2.1 1 2\r\n", 58, 1, false,
         ProxyFamily::tcp6, "2001:db8::1", "::ffff:c000:201", 1, 2, 0},
        {"v1 unknown", "PROXY UNKNOWN\r\n", 15, 1, true, ProxyFamily::unspecified, "", "", 0, 0, 0},
        {"v1 unknown with junk", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n", 31, 1, true, ProxyFamily::unspecified,
         "", "", 0, 0, 0},
        {"v2 tcp4", v2(0x21, 0x11, kV4Addr) + "EHLO", 28, 2, false, ProxyFamily::tcp4, "192.0.2.1",
         "198.51.100.2", 12345, 587, 0},
        {"v2 tcp6", v2(0x21, 0x21, kV6Addr), 52, 2, false, ProxyFamily::tcp6, "2001:db8::1", "::1", 65535,
         465, 0},
        {"v2 local", v2(0x20, 0x00, ""), 16, 2, true, ProxyFamily::unspecified, "", "", 0, 0, 0},
        {"v2 local with address block", v2(0x20, 0x11, kV4Addr), 28, 2, true, ProxyFamily::unspecified, "",
         "", 0, 0, 0},
        {"v2 proxy unspec", v2(0x21, 0x00, "abc"), 19, 2, true, ProxyFamily::unspecified, "", "", 0, 0, 0},
        {"v2 tcp4 with TLVs",
         v2(0x21, 0x11, kV4Addr + bytes({0x01, 0x00, 0x02, 'h', '2'}) + bytes({0x04, 0x00, 0x00})), 36, 2,
         false, ProxyFamily::tcp4, "192.0.2.1", "198.51.100.2", 12345, 587, 2},
        {"v2 unix stream", v2(0x21, 0x31, std::string(216, '\0')), 232, 2, false, ProxyFamily::unix_stream,
         "", "", 0, 0, 0},
    };
}

}  // namespace

TEST_CASE("PROXY good vectors") {
    for (const auto& g : good_vectors()) {
        CAPTURE(g.name);
        auto r = parse_proxy_header(g.input);
        REQUIRE(r.status == ProxyStatus::done);
        CHECK(r.consumed == g.consumed);
        CHECK(r.header.version == g.version);
        CHECK(r.header.local == g.local);
        CHECK(r.header.family == g.family);
        CHECK(r.header.src_addr == g.src);
        CHECK(r.header.dst_addr == g.dst);
        CHECK(r.header.src_port == g.sport);
        CHECK(r.header.dst_port == g.dport);
        CHECK(r.header.tlvs.size() == g.tlvs);
    }
    auto r = parse_proxy_header(v2(0x21, 0x11, kV4Addr + bytes({0x01, 0x00, 0x02, 'h', '2'})));
    REQUIRE(r.header.tlvs.size() == 1);
    CHECK(r.header.tlvs[0].type == 0x01);
    CHECK(r.header.tlvs[0].value == "h2");
}

TEST_CASE("PROXY: every strict prefix of a good header needs more") {
    for (const auto& g : good_vectors()) {
        CAPTURE(g.name);
        for (std::size_t n = 0; n < g.consumed; ++n) {
            CAPTURE(n);
            CHECK(parse_proxy_header(std::string_view(g.input).substr(0, n)).status ==
                  ProxyStatus::need_more);
        }
    }
}

TEST_CASE("PROXY bad vectors") {
    struct Bad {
        std::string name;
        std::string input;
    };
    const std::vector<Bad> cases = {
        {"smtp instead", "EHLO x\r\n"},
        {"lower case", "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"},
        {"wrong first byte", "X"},
        {"v1 bad proto", "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n"},
        {"v1 missing field", "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n"},
        {"v1 extra field", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n"},
        {"v1 double space", "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n"},
        {"v1 bad ipv4", "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n"},
        {"v1 ipv4 leading zero", "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n"},
        {"v1 ipv6 in tcp4", "PROXY TCP4 ::1 ::1 1 2\r\n"},
        {"v1 bad ipv6", "PROXY TCP6 1:::2 ::1 1 2\r\n"},
        {"v1 ipv6 too many groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"},
        {"v1 port too big", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n"},
        {"v1 port leading zero", "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n"},
        {"v1 port sign", "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n"},
        {"v1 CR without LF", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX"},
        {"v1 bare LF", "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n"},
        {"v1 NUL", "PROXY TCP4 1.2.3.4\0 1.2.3.4 1 2\r\n"s},
        {"v1 too long", "PROXY UNKNOWN " + std::string(100, 'x')},
        {"v2 bad version", v2(0x11, 0x11, kV4Addr)},
        {"v2 bad command", v2(0x22, 0x11, kV4Addr)},
        {"v2 bad family", v2(0x21, 0x41, kV4Addr)},
        {"v2 datagram", v2(0x21, 0x12, kV4Addr)},
        {"v2 truncated address", v2(0x21, 0x11, kV4Addr.substr(0, 11))},
        {"v2 ipv6 short", v2(0x21, 0x21, kV4Addr)},
        {"v2 TLV overruns", v2(0x21, 0x11, kV4Addr + bytes({0x01, 0x00, 0x05, 'a'}))},
        {"v2 TLV header cut", v2(0x21, 0x11, kV4Addr + bytes({0x01, 0x00}))},
        {"v2 oversize length", kSig + bytes({0x21, 0x11, 0xFF, 0xFF})},
        {"v2 signature typo", "\r\n\r\n\0\r\nQUIX\n"s + bytes({0x21, 0x11, 0, 12}) + kV4Addr},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto r = parse_proxy_header(c.input);
        CHECK(r.status == ProxyStatus::error);
        CHECK_FALSE(r.error.empty());
    }
}

TEST_CASE("PROXY v1 line limit: 107 octets is fine, 108 is not") {
    // "PROXY UNKNOWN " + padding + CRLF
    std::string ok = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
    REQUIRE(ok.size() == 107);
    CHECK(parse_proxy_header(ok).status == ProxyStatus::done);
    std::string bad = "PROXY UNKNOWN " + std::string(108 - 16, 'x') + "\r\n";
    CHECK(parse_proxy_header(bad).status == ProxyStatus::error);
    CHECK(parse_proxy_header(bad.substr(0, 106)).status == ProxyStatus::error);
    CHECK(parse_proxy_header(bad.substr(0, 105)).status == ProxyStatus::need_more);
}
