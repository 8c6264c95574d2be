// The unit a client is counted by, for the per-client limits
// (limits.max_connections_per_ip and the AUTH failure limiter): an IPv4
// address, or an IPv6 /64. A subscriber is given a whole /64, so counting
// single IPv6 addresses would let one client take a fresh address per
// connection and never meet a limit.
// Pure; used by server/connection_limits.* and server/auth_limiter.*.
#pragma once

#include <string>
#include <string_view>

namespace rp::server {

// "192.0.2.1" -> itself; "::ffff:192.0.2.1" -> "192.0.2.1";
// "2001:db8:1:2:3::4" -> "2001:db8:1:2::/64"; anything else unchanged.
std::string client_source(std::string_view address);

}  // namespace rp::server
