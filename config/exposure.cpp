// Internal to config/: the checks that keep a configuration from exposing
// what only the operator's own hosts may use (see sections.hpp):
// - trusted_networks: no single network broader than an IPv4 /8 or an IPv6
//   /7, and no list whose union covers every IPv4 address (and so none that
//   covers every IPv6 address). IPv6 networks count for IPv4 through their
//   IPv4-mapped part (::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96);
//   ::/80 holds all of ::ffff:0:0/96), because Cidr::contains matches IPv4
//   clients against them.
// - the admin API (served on metrics.address) may listen beyond loopback
//   only with an admin token.
// - PROXY protocol only on listeners that require AUTH.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "config/sections.hpp"

namespace rp::config::detail {
namespace {

using U128 = unsigned __int128;

// The broadest single network trusted_networks accepts, per family. No
// private range is broader than 10.0.0.0/8 (IPv4) or fc00::/7 (IPv6).
constexpr int min_v4_prefix = 8;
constexpr int min_v6_prefix = 7;

constexpr std::uint8_t mapped_prefix[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

struct Network {
    U128 base = 0;
    int prefix = 0;
};

struct Range {
    U128 first;
    U128 last;
};

U128 value_of(const std::uint8_t* bytes, int count) {
    U128 v = 0;
    for (int i = 0; i < count; ++i) v = (v << 8) | bytes[i];
    return v;
}

bool same_leading_bits(const std::uint8_t* a, const std::uint8_t* b, int bits) {
    for (int bit = 0; bit < bits; ++bit) {
        auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
        if ((a[bit / 8] & mask) != (b[bit / 8] & mask)) return false;
    }
    return true;
}

Range range_of(const Network& n, int bits) {
    int host_bits = bits - n.prefix;
    U128 span = host_bits >= 128 ? ~U128(0) : (U128(1) << host_bits) - 1;
    return {n.base, n.base | span};
}

// The IPv4 addresses a network trusts: its own for an IPv4 network, the
// IPv4-mapped part of an IPv6 one (nullopt when it has none).
std::optional<Network> ipv4_part(const Cidr& c) {
    if (!c.v6) return Network{value_of(c.bytes, 4), c.prefix};
    if (c.prefix <= 96)
        return same_leading_bits(c.bytes, mapped_prefix, c.prefix) ? std::optional(Network{0, 0})
                                                                   : std::nullopt;
    if (std::memcmp(c.bytes, mapped_prefix, 12) != 0) return std::nullopt;
    return Network{value_of(c.bytes + 12, 4), c.prefix - 96};
}

// Sort + merge: do the ranges together cover 0..max?
bool covers_all(std::vector<Range> ranges, U128 max) {
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
    U128 next = 0;  // lowest address not yet covered
    for (const Range& r : ranges) {
        if (r.first > next) return false;
        if (r.last >= max) return true;
        next = std::max(next, r.last + 1);
    }
    return false;
}

std::string ipv4_text(const Network& n) {
    std::uint8_t bytes[4];
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(n.base >> (8 * (3 - i)));
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, bytes, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(n.prefix);
}

}  // namespace

void check_trusted_network(const Context& ctx, const YAML::Mark& mark, const std::string& key,
                           const std::vector<Cidr>& networks) {
    const Cidr& c = networks.back();
    const std::string quoted = "\"" + c.text + "\"";
    const std::string narrow = "; list only the networks of your own hosts";
    if (c.prefix == 0)
        ctx.fail(mark, key + ": " + quoted + " trusts every address, which would make an open relay");
    auto v4 = ipv4_part(c);
    if (v4 && v4->prefix < min_v4_prefix)
        ctx.fail(mark,
                 key + ": " + quoted +
                     (c.v6 ? " holds the IPv4-mapped addresses of " + ipv4_text(*v4) + ", which is" : " is") +
                     " broader than an IPv4 /8" + narrow);
    if (c.v6 && c.prefix < min_v6_prefix)
        ctx.fail(mark, key + ": " + quoted + " is broader than an IPv6 /7" + narrow);

    // The IPv4 union is the one to check: a list covering every IPv6
    // address covers ::ffff:0:0/96, which is every IPv4 address, so it is
    // refused here no later than at the entry that completes the IPv6 cover.
    std::vector<Range> v4_ranges;
    for (const Cidr& n : networks)
        if (auto part = ipv4_part(n)) v4_ranges.push_back(range_of(*part, 32));
    if (covers_all(v4_ranges, 0xffffffffu))
        ctx.fail(mark,
                 key + ": with the networks before it, " + quoted +
                     " makes trusted_networks cover every IPv4 address, which would make an open relay");
}

void check_proxy_protocol(const Map& listener, const Listener& l) {
    if (!l.proxy_protocol || l.require_auth) return;
    listener.bad_value("proxy_protocol",
                       "PROXY protocol on a require_auth: false listener would let any peer claim a trusted "
                       "address; use proxy_protocol only on listeners with require_auth: true");
}

}  // namespace rp::config::detail
