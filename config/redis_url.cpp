// Parsing of redis:// and rediss:// pool.state addresses (see redis_url.hpp).
#include "config/redis_url.hpp"

#include <charconv>

namespace rp::config {

namespace {

bool number(const std::string& s, std::uint64_t max, std::uint64_t& out) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size() && out <= max;
}

bool option(RedisUrl& u, const std::string& key, const std::string& value, std::string& why) {
    std::uint64_t n = 0;
    if (key == "prefix") {
        if (value.empty() || value.find_first_of(" {}:") != std::string::npos) {
            why = "prefix must be non-empty, without spaces, ':' or braces";
            return false;
        }
        u.prefix = value;
    } else if (key == "reservation_ttl") {
        if (!number(value, 86400, n) || n == 0) {
            why = "reservation_ttl must be 1..86400 seconds";
            return false;
        }
        u.reservation_ttl_s = static_cast<std::uint32_t>(n);
    } else if (key == "poll_ms") {
        if (!number(value, 60000, n) || n < 10) {
            why = "poll_ms must be 10..60000";
            return false;
        }
        u.poll_ms = static_cast<std::uint32_t>(n);
    } else if (key == "ca_file") {
        u.ca_file = value;
    } else if (key == "tls_verify") {
        if (value != "0" && value != "1") {
            why = "tls_verify must be 0 or 1";
            return false;
        }
        u.tls_verify = value == "1";
    } else {
        why = "unknown option \"" + key + "\" (prefix, reservation_ttl, poll_ms, ca_file, tls_verify)";
        return false;
    }
    return true;
}

bool options(RedisUrl& u, std::string query, std::string& why) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string item = query.substr(0, amp);
        query = amp == std::string::npos ? "" : query.substr(amp + 1);
        const auto eq = item.find('=');
        if (eq == std::string::npos) {
            why = "option \"" + item + "\" needs a value (NAME=VALUE)";
            return false;
        }
        if (!option(u, item.substr(0, eq), item.substr(eq + 1), why)) return false;
    }
    return true;
}

}  // namespace

std::string redis_url_for_logs(const std::string& text) {
    const auto at = text.rfind('@');
    if (at == std::string::npos) return text;
    const auto scheme = text.find("://");
    const std::string head = scheme == std::string::npos ? "" : text.substr(0, scheme + 3);
    return head + "***" + text.substr(at);
}

bool is_redis_url(const std::string& text) {
    return text.starts_with("redis://") || text.starts_with("rediss://");
}

std::optional<RedisUrl> parse_redis_url(const std::string& text, std::string& why) {
    RedisUrl u;
    std::string rest;
    if (text.starts_with("rediss://")) {
        u.tls = true;
        rest = text.substr(9);
    } else if (text.starts_with("redis://")) {
        rest = text.substr(8);
    } else {
        why = "not a redis:// or rediss:// address";
        return std::nullopt;
    }
    const auto q = rest.find('?');
    if (rest.substr(0, q).find('@') != std::string::npos) {
        why = "no credentials in the URL: give pool.state_password, _file or _env";
        return std::nullopt;
    }
    if (q != std::string::npos) {
        const std::string query = rest.substr(q + 1);
        if (!options(u, query, why)) {
            // A password holding '?' puts its tail and the '@' here: do not
            // quote what may be part of it.
            if (query.find('@') != std::string::npos)
                why =
                    "invalid options (not shown: they hold an '@', as a password written into the "
                    "URL would; give pool.state_password, _file or _env)";
            return std::nullopt;
        }
        rest.resize(q);
    }
    if (auto slash = rest.find('/'); slash != std::string::npos) {
        std::uint64_t db = 0;
        const std::string d = rest.substr(slash + 1);
        if (!d.empty() && !number(d, 15, db)) {
            why = "the database must be a number 0..15";
            return std::nullopt;
        }
        u.db = static_cast<unsigned>(db);
        rest.resize(slash);
    }
    const auto colon = rest.rfind(':');
    if (colon == std::string::npos || rest.ends_with(']')) {
        why = "expected \"HOST:PORT\"";
        return std::nullopt;
    }
    u.host = rest.substr(0, colon);
    if (u.host.starts_with('[') && u.host.ends_with(']')) u.host = u.host.substr(1, u.host.size() - 2);
    if (u.host.empty()) {
        why = "a host is needed";
        return std::nullopt;
    }
    std::uint64_t port = 0;
    if (!number(rest.substr(colon + 1), 65535, port) || port == 0) {
        why = "the port must be 1..65535";
        return std::nullopt;
    }
    u.port = static_cast<std::uint16_t>(port);
    return u;
}

}  // namespace rp::config
