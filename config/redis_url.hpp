// pool.state as a Redis address: redis://HOST:PORT[/DB][?OPTIONS] or
// rediss://... (TLS). Parsed once here for check-config and for the relay's
// Redis pool state (relay/redis_pool_state.*), so both agree on what is valid.
//
// Options (all optional, `&`-separated):
//   prefix=NAME            key prefix (default "relaypool"): instances sharing
//                          one pool use the same prefix
//   reservation_ttl=SECS   a reservation never settled (its instance crashed)
//                          stops being tracked after this long; it stays
//                          counted as a full send (default 900)
//   poll_ms=MS             how often shared account states are read (default
//                          1000: the bounded staleness of a pause or cooldown)
//   ca_file=PATH           rediss: extra CA bundle to verify the server with
//   tls_verify=0           rediss: do not verify the server (tests only)
// The password is not part of the URL (it would land in logs): give
// pool.state_password / _file / _env.
// Pure (no I/O). Used by config/sections_back.cpp and relay/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace rp::config {

struct RedisUrl {
    bool tls = false;
    std::string host;
    std::uint16_t port = 6379;
    unsigned db = 0;
    std::string prefix = "relaypool";
    std::uint32_t reservation_ttl_s = 900;
    std::uint32_t poll_ms = 1000;
    std::string ca_file;
    bool tls_verify = true;
};

bool is_redis_url(const std::string& text);

// nullopt with `why` set when `text` is a redis URL that is not valid
// (`why` never quotes what may be a password).
std::optional<RedisUrl> parse_redis_url(const std::string& text, std::string& why);

// `text` fit for an error message or a log: what comes before an '@' (user
// and password, when someone wrote them into the URL) becomes "***".
std::string redis_url_for_logs(const std::string& text);

}  // namespace rp::config
