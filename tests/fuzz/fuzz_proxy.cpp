// Fuzzes the PROXY v1/v2 header parser: bounded consumption, well-formed
// results, and prefix consistency (every strict prefix of an accepted
// header is need_more, never done or error).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/proxy_protocol.hpp"

using namespace rp::protocol;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    ProxyParseResult r = parse_proxy_header(in);
    switch (r.status) {
        case ProxyStatus::need_more:
            require(in.size() < kProxyMaxHeader);
            break;
        case ProxyStatus::error:
            require(!r.error.empty());
            break;
        case ProxyStatus::done:
            require(r.consumed > 0 && r.consumed <= in.size() && r.consumed <= kProxyMaxHeader);
            require(r.header.version == 1 || r.header.version == 2);
            if (r.header.version == 1) require(r.consumed <= kProxyV1MaxLine);
            if (!r.header.local &&
                (r.header.family == ProxyFamily::tcp4 || r.header.family == ProxyFamily::tcp6))
                require(!r.header.src_addr.empty() && !r.header.dst_addr.empty());
            // the same header must also parse from exactly its own bytes
            {
                ProxyParseResult again = parse_proxy_header(in.substr(0, r.consumed));
                require(again.status == ProxyStatus::done && again.consumed == r.consumed);
                require(again.header.src_addr == r.header.src_addr &&
                        again.header.src_port == r.header.src_port);
            }
            for (std::size_t n = 0; n < r.consumed; n += (r.consumed > 64 ? 7 : 1))
                require(parse_proxy_header(in.substr(0, n)).status == ProxyStatus::need_more);
            break;
    }
    return 0;
}
