// Value parsers of the configuration: sizes, durations, endpoints, CIDRs and
// the password-hash shape check. Pure functions of their text; no YAML here.
//
// Units (documented in docs/configuration.md):
//   sizes      plain bytes, B; k K kB KB = 1000, M MB = 1000^2, G GB = 1000^3
//              (SI); KiB = 1024, MiB = 1024^2, GiB = 1024^3 (IEC).
//   durations  ms s m h d; a plain integer is seconds (like Postfix).
#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <limits>

#include "config/config.hpp"
#include "config/yaml_map.hpp"

namespace rp::config {
namespace {

struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
};

// Splits "35MiB" / "35 MiB" into number and suffix; false on no digits or
// on overflow of the number itself.
bool split_number(const std::string& text, std::uint64_t& number, std::string_view& suffix) {
    const char* first = text.data();
    const char* last = first + text.size();
    auto [ptr, ec] = std::from_chars(first, last, number);
    if (ec != std::errc() || ptr == first) return false;
    if (ptr != last && *ptr == ' ') ++ptr;
    suffix = std::string_view(ptr, static_cast<std::size_t>(last - ptr));
    return true;
}

std::optional<std::uint64_t> scale(std::uint64_t number, std::string_view suffix, const Unit* units,
                                   std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        if (units[i].suffix != suffix) continue;
        if (number > std::numeric_limits<std::uint64_t>::max() / units[i].factor) return std::nullopt;
        return number * units[i].factor;
    }
    return std::nullopt;
}

bool hash_chars(std::string_view s, bool allow_equals) {
    if (s.empty()) return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '/' || (allow_equals && c == '=');
        if (!ok) return false;
    }
    return true;
}

// "$id$a$b$c" after the id prefix -> {"a","b","c"}.
std::vector<std::string_view> dollar_fields(std::string_view rest) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (true) {
        std::size_t d = rest.find('$', start);
        out.push_back(rest.substr(start, d == std::string_view::npos ? std::string_view::npos : d - start));
        if (d == std::string_view::npos) return out;
        start = d + 1;
    }
}

bool fields_ok(const std::vector<std::string_view>& fields, bool allow_equals) {
    for (auto f : fields)
        if (!hash_chars(f, allow_equals)) return false;
    return true;
}

}  // namespace

std::optional<std::uint64_t> parse_size(const std::string& text) {
    static constexpr Unit units[] = {
        {"", 1},
        {"B", 1},
        {"k", 1000},
        {"K", 1000},
        {"kB", 1000},
        {"KB", 1000},
        {"KiB", 1024},
        {"M", 1000ull * 1000},
        {"MB", 1000ull * 1000},
        {"MiB", 1024ull * 1024},
        {"G", 1000ull * 1000 * 1000},
        {"GB", 1000ull * 1000 * 1000},
        {"GiB", 1024ull * 1024 * 1024},
    };
    std::uint64_t number = 0;
    std::string_view suffix;
    if (!split_number(text, number, suffix)) return std::nullopt;
    return scale(number, suffix, units, std::size(units));
}

std::optional<Duration> parse_duration(const std::string& text) {
    static constexpr Unit units[] = {
        {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
    };
    std::uint64_t number = 0;
    std::string_view suffix;
    if (!split_number(text, number, suffix)) return std::nullopt;
    auto ms = scale(number, suffix, units, std::size(units));
    if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<Duration::rep>::max()))
        return std::nullopt;
    return Duration(static_cast<Duration::rep>(*ms));
}

bool is_supported_password_hash(std::string_view hash) {
    if (hash.starts_with("$y$")) {
        // $y$<params>$<salt>$<hash>; the hash is 32 bytes in crypt base64.
        auto f = dollar_fields(hash.substr(3));
        return f.size() == 3 && fields_ok(f, false) && f[2].size() == 43;
    }
    if (hash.starts_with("$2b$")) {
        // $2b$<cost 04..31>$<22 salt + 31 hash>
        auto f = dollar_fields(hash.substr(4));
        if (f.size() != 2 || f[0].size() != 2 || !fields_ok(f, false) || f[1].size() != 53) return false;
        int cost = (f[0][0] - '0') * 10 + (f[0][1] - '0');
        return cost >= 4 && cost <= 31;
    }
    if (hash.starts_with("$6$")) {
        // $6$[rounds=N$]<salt up to 16>$<86 hash>
        auto f = dollar_fields(hash.substr(3));
        if (f.size() == 3 && !f[0].starts_with("rounds=")) return false;
        if (f.size() != 2 && f.size() != 3) return false;
        return fields_ok(f, f.size() == 3) && f[f.size() - 2].size() <= 16 && f.back().size() == 86;
    }
    return false;
}

// Accepts IPv4, IPv6 and IPv4-mapped IPv6 ("::ffff:10.1.2.3", what a
// dual-stack socket reports) against both kinds of network.
bool Cidr::contains(const std::string& address) const {
    std::uint8_t addr[16] = {};
    bool addr_v6 = false;
    std::string text = address;
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (auto pct = text.find('%'); pct != std::string::npos) text.resize(pct);
    if (inet_pton(AF_INET, text.c_str(), addr) == 1) {
        addr_v6 = false;
    } else if (inet_pton(AF_INET6, text.c_str(), addr) == 1) {
        addr_v6 = true;
    } else {
        return false;
    }
    static constexpr std::uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (addr_v6 && !v6) {
        if (std::memcmp(addr, mapped_prefix, 12) != 0) return false;
        std::memmove(addr, addr + 12, 4);
    } else if (!addr_v6 && v6) {
        std::uint8_t mapped[16];
        std::memcpy(mapped, mapped_prefix, 12);
        std::memcpy(mapped + 12, addr, 4);
        std::memcpy(addr, mapped, 16);
    }
    int full = prefix / 8;
    if (std::memcmp(addr, bytes, static_cast<std::size_t>(full)) != 0) return false;
    int rest = prefix % 8;
    if (rest == 0) return true;
    auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (addr[full] & mask) == (bytes[full] & mask);
}

namespace detail {

namespace {

bool valid_hostname(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (char c : host) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

std::optional<Endpoint> parse_endpoint(const std::string& text, std::string& why) {
    Endpoint ep;
    ep.text = text;
    std::string port_text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            why = "expected \"[IPv6]:PORT\"";
            return std::nullopt;
        }
        ep.host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
        std::uint8_t buf[16];
        if (inet_pton(AF_INET6, ep.host.c_str(), buf) != 1) {
            why = "not an IPv6 address inside [ ]";
            return std::nullopt;
        }
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) {
            why = colon == std::string::npos ? "expected \"HOST:PORT\""
                                             : "write IPv6 addresses as \"[ADDR]:PORT\"";
            return std::nullopt;
        }
        ep.host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (!valid_hostname(ep.host)) {
            why = "not a host name or IP address";
            return std::nullopt;
        }
    }
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        why = "port must be 1..65535";
        return std::nullopt;
    }
    ep.port = static_cast<std::uint16_t>(port);
    return ep;
}

std::optional<Cidr> parse_cidr(const std::string& text, std::string& why) {
    Cidr c;
    c.text = text;
    auto slash = text.find('/');
    std::string addr = text.substr(0, slash);
    if (inet_pton(AF_INET, addr.c_str(), c.bytes) == 1) {
        c.v6 = false;
    } else if (inet_pton(AF_INET6, addr.c_str(), c.bytes) == 1) {
        c.v6 = true;
    } else {
        why = "not an IPv4 or IPv6 network (ADDRESS/PREFIX)";
        return std::nullopt;
    }
    int max = c.v6 ? 128 : 32;
    c.prefix = max;
    if (slash != std::string::npos) {
        std::string p = text.substr(slash + 1);
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), c.prefix);
        if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || c.prefix < 0 || c.prefix > max) {
            why = "prefix length must be 0.." + std::to_string(max);
            return std::nullopt;
        }
    }
    for (int bit = c.prefix; bit < max; ++bit) {
        if (c.bytes[bit / 8] & (0x80 >> (bit % 8))) {
            why = "has bits set after the prefix length";
            return std::nullopt;
        }
    }
    return c;
}

}  // namespace detail
}  // namespace rp::config
