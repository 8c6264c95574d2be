// Who may use the admin API (/api/v1/..., SPEC.md "Operations"): a pure
// decision from the request's peer and its Origin and Host headers.
//
// - With admin.token_file set: anyone; the bearer token is checked next
//   (a browser cannot attach it to a cross-site request without a CORS
//   preflight, which is never answered, and a DNS-rebound page does not
//   know it), so Origin and Host are not looked at.
// - Without a token: loopback peers only, and only when
//   * Host, if sent, names a loopback host ("localhost", 127.0.0.0/8,
//     [::1]) or the host of metrics.address (any port: an ssh tunnel or a
//     port-forward changes it). A DNS-rebound page sends its own name.
//   * Origin, if sent, is the request's own origin: "http://" + the Host
//     header (same host and port). A cross-site page, including one served
//     by another local port, sends its own origin; "null" is refused too.
//   * Sec-Fetch-Site, if sent, is "same-origin" or "none" (typed into the
//     address bar). A browser sends no Origin on a cross-site <img> or
//     no-cors GET, but it does send this: such GETs change nothing, yet
//     a hostile page could loop them to load the queue listing.
// Pure (no I/O, no Asio); used by metrics/http_server.cpp and tests/metrics.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rp::metrics {

struct AdminRequestFacts {
    bool token_configured = false;
    bool peer_is_loopback = false;
    std::optional<std::string> origin;      // the Origin header, when present
    std::optional<std::string> host;        // the Host header, when present
    std::string configured_host;            // host part of metrics.address ("0.0.0.0", a name, ...)
    std::optional<std::string> fetch_site;  // the Sec-Fetch-Site header, when present
};

// "" when the request may proceed (to the token check), otherwise the reason
// for the 403 (one line, no request data in it).
std::string admin_refusal(const AdminRequestFacts& facts);

// Host part of an authority ("h", "h:port", "[v6]:port"), lowercased and
// without a trailing dot; nullopt when malformed (empty, bad port, junk).
std::optional<std::string> authority_host(std::string_view authority);

// "localhost", an IPv4 literal in 127.0.0.0/8, "::1" (bracketed or not) or an
// IPv4-mapped loopback: names no DNS answer can point elsewhere.
bool is_loopback_host(std::string_view host);

}  // namespace rp::metrics
