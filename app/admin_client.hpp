// A small synchronous HTTP/1.1 client for the admin API, used by the `queue`
// and `pool` commands of the command line.
//
// Invariants: http:// only (the admin API has no TLS; bind it to localhost);
// one request per connection; every step (resolve, connect, write, read) is
// bounded by one overall timeout; the token is sent as a bearer header and
// never appears in an error text. Errors are values, no exceptions.
// Used by app/admin_commands.cpp and tests/app.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rp::app::admin {

inline constexpr const char* default_admin_url = "http://127.0.0.1:9090";
inline constexpr auto default_timeout = std::chrono::seconds(5);

struct AdminUrl {
    std::string host;  // name or IP literal (IPv6 without brackets)
    std::uint16_t port = 80;
    std::string prefix;  // path prefix without a trailing '/', "" for none
    std::string text;    // as given, for messages
};

struct UrlResult {
    std::optional<AdminUrl> url;
    std::string error;  // set when url is empty
};

// "http://HOST[:PORT][/PREFIX]"; HOST may be "[v6]".
UrlResult parse_admin_url(std::string_view text);

struct Reply {
    int status = 0;
    std::string body;
};

struct CallResult {
    std::optional<Reply> reply;  // any HTTP answer, whatever its status
    std::string error;           // when the server could not be reached or answered garbage
};

// Sends `method` `url.prefix + path` (path starts with '/'); `token` "" sends
// no Authorization header.
CallResult call(const AdminUrl& url, std::string_view method, std::string_view path, const std::string& token,
                std::chrono::milliseconds timeout = default_timeout);

}  // namespace rp::app::admin
