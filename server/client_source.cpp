// Client source keys (see client_source.hpp).
#include "server/client_source.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace rp::server {

std::string client_source(std::string_view address) {
    std::string text(address);
    in6_addr a6{};
    if (::inet_pton(AF_INET6, text.c_str(), &a6) != 1) return text;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char buf[INET6_ADDRSTRLEN];
    if (std::memcmp(a6.s6_addr, mapped, 12) == 0) {
        in_addr a4{};
        std::memcpy(&a4, a6.s6_addr + 12, 4);
        return ::inet_ntop(AF_INET, &a4, buf, sizeof buf) ? std::string(buf) : text;
    }
    std::memset(a6.s6_addr + 8, 0, 8);  // one /64 is one subscriber
    if (!::inet_ntop(AF_INET6, &a6, buf, sizeof buf)) return text;
    return std::string(buf) + "/64";
}

}  // namespace rp::server
