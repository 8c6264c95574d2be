// Admin API access decision (see admin_access.hpp).
#include "metrics/admin_access.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace rp::metrics {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool valid_port(std::string_view port) {
    return !port.empty() && port.size() <= 5 &&
           std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool origin_matches_host(std::string_view origin, std::string_view host_header) {
    constexpr std::string_view scheme = "http://";
    std::string o = lower(origin);
    if (!std::string_view(o).starts_with(scheme)) return false;
    std::string_view rest = std::string_view(o).substr(scheme.size());
    if (rest.ends_with('/')) rest.remove_suffix(1);  // tolerate a trailing slash
    return rest == lower(host_header);
}

}  // namespace

std::optional<std::string> authority_host(std::string_view authority) {
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':' || !valid_port(after.substr(1))) return std::nullopt;
        }
        in6_addr a6{};
        if (::inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return std::nullopt;
        return lower(host);
    }
    auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (!valid_port(port)) return std::nullopt;
    }
    if (host.ends_with('.')) host.remove_suffix(1);
    if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), host_char))
        return std::nullopt;
    return lower(host);
}

bool is_loopback_host(std::string_view host) {
    std::string h = lower(host);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (h == "localhost" || h == "localhost.") return true;
    in_addr a4{};
    if (::inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    in6_addr a6{};
    if (::inet_pton(AF_INET6, h.c_str(), &a6) != 1) return false;
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(a6.s6_addr, loop6, 16) == 0) return true;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a6.s6_addr, mapped, 12) == 0 && a6.s6_addr[12] == 127;
}

std::string admin_refusal(const AdminRequestFacts& f) {
    if (f.token_configured) return {};
    if (!f.peer_is_loopback) return "the admin API without admin.token_file answers only local clients";
    if (f.host) {
        auto host = authority_host(*f.host);
        bool ok = host && (is_loopback_host(*host) || *host == lower(f.configured_host));
        if (!ok) return "the admin API without admin.token_file answers only a loopback Host";
    }
    if (f.origin) {
        if (!f.host || !origin_matches_host(*f.origin, *f.host))
            return "the admin API without admin.token_file refuses cross-origin requests";
    }
    if (f.fetch_site && *f.fetch_site != "same-origin" && *f.fetch_site != "none")
        return "the admin API without admin.token_file refuses cross-site requests";
    return {};
}

}  // namespace rp::metrics
