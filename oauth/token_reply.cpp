// Token endpoint answers (see token_reply.hpp).
#include "oauth/token_reply.hpp"

#include <boost/json.hpp>

namespace rp::oauth {
namespace {

constexpr std::size_t max_description = 200;
// Google's tokens are ~200 bytes; anything far beyond is not a token.
constexpr std::size_t max_token = 4096;
constexpr std::int64_t max_lifetime_seconds = 24 * 3600;

// Control characters and overlong text from the endpoint stay out of logs
// and pool status.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (out.size() >= max_description) {
            out += "...";
            break;
        }
        out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
    return out;
}

std::string string_field(const boost::json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool token_chars_ok(std::string_view token) {
    if (token.empty() || token.size() > max_token) return false;
    for (char c : token)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return false;
    return true;
}

TokenReply from_success(const boost::json::object& o) {
    TokenReply r;
    r.access_token = string_field(o, "access_token");
    const auto* expires = o.if_contains("expires_in");
    std::int64_t seconds = 0;
    if (expires && expires->is_int64()) seconds = expires->get_int64();
    if (expires && expires->is_uint64())
        seconds =
            static_cast<std::int64_t>(std::min<std::uint64_t>(expires->get_uint64(), max_lifetime_seconds));
    const std::string type = string_field(o, "token_type");
    if (!token_chars_ok(r.access_token) || seconds <= 0 || (!type.empty() && type != "Bearer")) {
        r.access_token.clear();
        r.error = "malformed token reply";
        return r;
    }
    r.failure = TokenFailure::none;
    r.lifetime = std::chrono::seconds(std::min(seconds, max_lifetime_seconds));
    return r;
}

bool temporary_status(int status) {
    return status == 408 || status == 429 || status < 400 || status >= 500;
}

}  // namespace

TokenReply parse_token_reply(int http_status, std::string_view body) {
    boost::json::error_code ec;
    boost::json::value doc = boost::json::parse(body, ec);
    const boost::json::object* o = !ec && doc.is_object() ? &doc.get_object() : nullptr;
    if (http_status == 200) {
        if (o) return from_success(*o);
        TokenReply r;
        r.error = "malformed token reply";
        return r;
    }
    TokenReply r;
    r.failure = temporary_status(http_status) ? TokenFailure::unavailable : TokenFailure::denied;
    r.error = o ? printable(string_field(*o, "error")) : "";
    if (r.error.empty()) r.error = "http " + std::to_string(http_status);
    if (o) r.description = printable(string_field(*o, "error_description"));
    return r;
}

TokenReply unreachable(std::string why) {
    TokenReply r;
    r.error = std::move(why);
    return r;
}

namespace {
constexpr std::string_view key_error = "service account key unusable";
}

TokenReply key_unusable(std::string why) {
    TokenReply r;
    r.failure = TokenFailure::denied;
    r.error = std::string(key_error);
    r.description = std::move(why);
    return r;
}

std::string explain(const TokenReply& reply) {
    if (reply.error == key_error) return reply.error + ": " + reply.description;
    std::string meaning;
    if (reply.error == "unauthorized_client")
        meaning =
            " (domain-wide delegation is not granted to this service account's client id for the scope)";
    else if (reply.error == "invalid_grant")
        meaning = " (the mailbox does not exist or is suspended, or this host's clock is off)";
    else if (reply.error == "invalid_scope")
        meaning = " (the scope is not one Google knows; use https://mail.google.com/)";
    else if (reply.error == "invalid_client")
        meaning = " (the service account key was deleted or disabled)";
    std::string out = "token endpoint refused: " + reply.error + meaning;
    if (!reply.description.empty()) out += ": " + reply.description;
    return out;
}

}  // namespace rp::oauth
