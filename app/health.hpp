// `relaypool health [--url URL] [--ready]`: a probe for container engines
// (the image's HEALTHCHECK), systemd and scripts. It asks the running
// server's /healthz (or /readyz with --ready) on metrics.address, prints one
// line with the reason, and exits 0 when the answer is 200, 1 otherwise
// (any other status, refused, timed out, not HTTP). A bad URL is a usage
// error (2). Docker reads 0 as healthy and 1 as unhealthy, which is why
// "unreachable" is 1 here and not the admin commands' 3.
//
// Invariants: one HTTP request through app/admin_client (no other HTTP
// code); bounded by health_timeout; the server's answer is untrusted text,
// printed made one line and cut. Pure planning/judging functions so that
// tests/app can table-drive them; run_health() (cli.hpp) does the I/O.
// Used by app/cli.cpp and tests/app.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "app/admin_client.hpp"

namespace rp::app::health {

inline constexpr auto health_timeout = std::chrono::seconds(2);
inline constexpr std::size_t max_reason_bytes = 300;

struct Probe {
    admin::AdminUrl url;
    std::string path;  // "/healthz" or "/readyz", under url.prefix
};

struct ProbeResult {
    std::optional<Probe> probe;
    std::string error;  // set when probe is empty (a bad URL)
};

// `url_text` as given with --url (or --admin), or empty for the default.
ProbeResult plan(const std::optional<std::string>& url_text, bool ready);

struct Verdict {
    int exit_code = 1;    // 0 healthy/ready, 1 not
    std::string message;  // one line, with '\n'; stdout when 0, stderr otherwise
};

Verdict judge(const Probe& probe, const admin::CallResult& result);

}  // namespace rp::app::health
