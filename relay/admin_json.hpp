// Tiny JSON writing helpers for the admin API answers of relay/relay.cpp
// (strings escaped per RFC 8259; times as RFC 3339 UTC). Header-only, pure.
// Used by relay/relay.cpp only.
#pragma once

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

#include "common/log.hpp"

namespace rp::relay::json {

inline std::string quote(std::string_view s) {
    std::string out = "\"";
    log::append_json_escaped(out, s);
    return out + "\"";
}

inline std::string time(std::chrono::system_clock::time_point t) {
    if (t.time_since_epoch().count() == 0) return "\"\"";
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return quote(buf);
}

inline std::string seconds(std::chrono::system_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

// Appends `"key":value,` (the caller strips the last comma via close()).
inline void field(std::string& out, std::string_view key, std::string_view raw_value) {
    out += quote(key);
    out += ':';
    out += raw_value;
    out += ',';
}

// Replaces a trailing comma by `closer` (or appends it).
inline void close(std::string& out, char closer) {
    if (!out.empty() && out.back() == ',')
        out.back() = closer;
    else
        out += closer;
}

inline std::string error(std::string_view message) {
    return "{\"error\":" + quote(message) + "}";
}

}  // namespace rp::relay::json
