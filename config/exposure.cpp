// Internal to config/: the checks that keep a configuration from exposing
// what only the operator's own hosts may use (see sections.hpp):
// - trusted_networks and proxy_protocol_from: no single network broader than
//   an IPv4 /8 or an IPv6 /7, and no list holding more public addresses in
//   all than an IPv4 /8 or an IPv6 /24 (private ranges are not counted).
//   IPv6 networks count for IPv4 through their IPv4-mapped part
//   (::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96); ::/80 holds all of
//   ::ffff:0:0/96), because Cidr::contains matches IPv4 clients against them.
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
// The public addresses one list may hold in all: a /8 of IPv4 (the widest
// single entry) and a /24 of IPv6 (room for a provider's allocations, such as
// a RIPE /29 or a CDN's published ranges, six /32s and a /29).
constexpr U128 max_public_v4 = U128(1) << 24;
constexpr U128 max_public_v6 = U128(1) << 104;

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

// Sorted and merged: overlapping or adjacent ranges become one.
std::vector<Range> merged(std::vector<Range> ranges) {
    std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.first < b.first; });
    std::vector<Range> out;
    for (const Range& r : ranges) {
        if (!out.empty() && (out.back().last == ~U128(0) || r.first <= out.back().last + 1))
            out.back().last = std::max(out.back().last, r.last);
        else
            out.push_back(r);
    }
    return out;
}

// How many addresses of the merged ranges lie in `within`.
U128 count_within(const std::vector<Range>& ranges, Range within) {
    U128 n = 0;
    for (const Range& r : ranges) {
        const U128 first = std::max(r.first, within.first), last = std::min(r.last, within.last);
        if (first <= last) n += last - first + 1;
    }
    return n;
}

// IPv4 ranges no client on the Internet comes from: 0/8, 10/8, 100.64/10
// (carrier-grade NAT), 127/8, 169.254/16, 172.16/12, 192.168/16.
constexpr Range kNonPublicV4[] = {
    {0x00000000u, 0x00ffffffu}, {0x0a000000u, 0x0affffffu}, {0x64400000u, 0x647fffffu},
    {0x7f000000u, 0x7fffffffu}, {0xa9fe0000u, 0xa9feffffu}, {0xac100000u, 0xac1fffffu},
    {0xc0a80000u, 0xc0a8ffffu},
};

U128 public_v4(const std::vector<Range>& ranges) {
    U128 n = count_within(ranges, {0, 0xffffffffu});
    for (const Range& r : kNonPublicV4) n -= count_within(ranges, r);
    return n;
}

// Global unicast, 2000::/3: the IPv6 addresses clients come from.
U128 public_v6(const std::vector<Range>& ranges) {
    const U128 first = U128(0x2000) << 112;
    return count_within(ranges, {first, first | ((U128(1) << 125) - 1)});
}

std::string decimal(U128 v) {
    std::string s;
    do {
        s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
        v /= 10;
    } while (v != 0);
    return s;
}

std::string ipv4_text(const Network& n) {
    std::uint8_t bytes[4];
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(n.base >> (8 * (3 - i)));
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, bytes, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(n.prefix);
}

}  // namespace

void check_network_breadth(const Context& ctx, const YAML::Mark& mark, const std::string& key,
                           const std::vector<Cidr>& networks, std::string_view consequence) {
    const Cidr& c = networks.back();
    const std::string quoted = "\"" + c.text + "\"";
    const std::string narrow = "; list only the networks of your own hosts";
    if (c.prefix == 0)
        ctx.fail(mark, key + ": " + quoted + " trusts every address, " + std::string(consequence));
    auto v4 = ipv4_part(c);
    if (v4 && v4->prefix < min_v4_prefix)
        ctx.fail(mark,
                 key + ": " + quoted +
                     (c.v6 ? " holds the IPv4-mapped addresses of " + ipv4_text(*v4) + ", which is" : " is") +
                     " broader than an IPv4 /8" + narrow);
    if (c.v6 && c.prefix < min_v6_prefix)
        ctx.fail(mark, key + ": " + quoted + " is broader than an IPv6 /7" + narrow);

    // The list as a whole, public addresses only (private ranges may be
    // trusted whole): many narrow entries must not add up to the Internet.
    // Every IPv4 address is also every IPv4-mapped IPv6 one, so a list
    // covering all of either family is refused here too.
    std::vector<Range> v4_ranges, v6_ranges;
    for (const Cidr& n : networks) {
        if (auto part = ipv4_part(n)) v4_ranges.push_back(range_of(*part, 32));
        if (n.v6) v6_ranges.push_back(range_of(Network{value_of(n.bytes, 16), n.prefix}, 128));
    }
    const U128 v4_public = public_v4(merged(std::move(v4_ranges)));
    if (v4_public > max_public_v4)
        ctx.fail(mark, key + ": " + quoted + " brings the public IPv4 addresses of this list to " +
                           decimal(v4_public) + ", more than a /8 (" + decimal(max_public_v4) + ")" + narrow);
    const U128 v6_public = public_v6(merged(std::move(v6_ranges)));
    if (v6_public > max_public_v6)
        ctx.fail(mark, key + ": " + quoted +
                           " brings the public IPv6 addresses of this list to more than a /24" + narrow);
}

void check_proxy_protocol(const Map& listener, const Listener& l) {
    if (!l.proxy_protocol || l.require_auth) return;
    listener.bad_value("proxy_protocol",
                       "PROXY protocol on a require_auth: false listener would let any peer claim a trusted "
                       "address; use proxy_protocol only on listeners with require_auth: true");
}

}  // namespace rp::config::detail
