// Helpers for the pool tests: accounts, a fixed UTC start time and a pool
// that can be "restarted" from its own snapshot + journal text.
// Test code only.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "pool/pool.hpp"

namespace pool_test {

using namespace rp;
using namespace std::chrono_literals;

// 2026-12-01 10:00:00 UTC: a Tuesday morning, away from any day boundary.
inline WallTime t0() {
    return WallTime{std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}.time_since_epoch() + 10h};
}

inline config::Account account(std::string name, std::uint32_t daily = 100, std::uint32_t recipients = 0,
                               std::uint32_t hourly = 0) {
    config::Account a;
    a.username = std::move(name);
    a.password = "secret-" + a.username;
    a.daily_limit = daily;
    a.daily_recipient_limit = recipients;
    a.hourly_limit = hourly;
    return a;
}

inline std::vector<config::Account> accounts(std::size_t n, std::uint32_t daily = 100) {
    std::vector<config::Account> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(account("a" + std::to_string(i) + "@pool.test", daily));
    return out;
}

inline pool::Options options(config::Strategy s = config::Strategy::round_robin,
                             std::uint32_t connections = 2) {
    pool::Options o;
    o.strategy = s;
    o.connections_per_account = connections;
    o.cooldown_temporary = 15min;
    return o;
}

// Reserve and settle one fully delivered message; the account name or "".
inline std::string send(pool::Pool& p, WallTime now, std::size_t recipients = 1, std::string_view key = "") {
    auto r = p.reserve(recipients, key, now);
    if (!r) return "";
    p.settle(r, r.recipients, now);
    return r.name;
}

inline pool::AccountStatus status_of(pool::Pool& p, const std::string& name, WallTime now) {
    for (auto& s : p.status(now))
        if (s.name == name) return s;
    return {};
}

}  // namespace pool_test
