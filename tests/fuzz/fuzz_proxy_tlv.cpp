// Fuzzes PROXY v2 beyond the address block: the harness wraps the input in a
// valid v2 header (first byte: family and command; then the address block;
// the rest is the TLV area, up to the parser's bound), so every execution
// reaches the TLV walk (fuzz_proxy spends most of its time on signatures).
// Properties: the header is accepted iff the TLV area is a exact sequence of
// type/length/value records (LOCAL and UNSPEC ignore it), the TLVs written
// back give the TLV area byte for byte, and the trailing SMTP bytes are
// never consumed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/proxy_protocol.hpp"

using namespace rp::protocol;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    static const std::size_t addr_len[4] = {0, 12, 36, 216};
    const unsigned family = data[0] & 3, local = (data[0] >> 2) & 1;
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t room = kProxyV2MaxPayload - addr_len[family];
    const std::string_view tlvs = rest.substr(0, std::min(rest.size(), room));
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += static_cast<char>(local ? 0x20 : 0x21);
    h += static_cast<char>(family << 4 | 1);
    const std::size_t len = addr_len[family] + tlvs.size();
    h += static_cast<char>(len >> 8);
    h += static_cast<char>(len & 0xff);
    h += std::string(addr_len[family], '\x7f');
    h += tlvs;
    const std::string wire = h + "EHLO x\r\n";
    const ProxyParseResult r = parse_proxy_header(wire);
    if (r.status == ProxyStatus::error) {
        require(!local && family != 0);
        return 0;
    }
    require(r.status == ProxyStatus::done && r.consumed == h.size());
    if (local || family == 0) return require(r.header.local && r.header.tlvs.empty()), 0;
    std::string back;
    for (const ProxyTlv& t : r.header.tlvs) {
        back += static_cast<char>(t.type);
        back += static_cast<char>(t.value.size() >> 8);
        back += static_cast<char>(t.value.size() & 0xff);
        back += t.value;
    }
    require(back == tlvs);
    return 0;
}
