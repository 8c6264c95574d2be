// What the token endpoint's HTTP answer means (SPEC.md "Delivery", XOAUTH2):
// 200 with access_token and expires_in is a token; any other 4xx (except
// 408 and 429) is a refusal that disables the account, with the endpoint's
// `error` (unauthorized_client, invalid_grant, ...) shown to operators; 5xx,
// 408, 429, a malformed 200 and anything else are temporary and blame no
// account. The one place that interprets the token endpoint.
// Pure; used by relay/oauth_tokens.* and the fuzz target.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace rp::oauth {

enum class TokenFailure {
    none,         // a token
    denied,       // the endpoint refused this account: disable it
    unavailable,  // unreachable, 5xx, malformed: retry later, blame no account
};

struct TokenReply {
    TokenFailure failure = TokenFailure::unavailable;
    std::string access_token;  // secret: never logged
    std::chrono::seconds lifetime{0};
    std::string error;        // "unauthorized_client", "http 503", "timed out", ...
    std::string description;  // the endpoint's error_description, bounded and printable
};

TokenReply parse_token_reply(int http_status, std::string_view body);

// A temporary failure without an HTTP answer (DNS, connect, TLS, timeout).
TokenReply unreachable(std::string why);
// A refusal before any request: the service account key cannot be used
// (unreadable, not a key); `why` names the file and the field.
TokenReply key_unusable(std::string why);

// What an operator should read in `pool status` for a refusal: the error
// and its meaning for domain-wide delegation, e.g. "token endpoint refused:
// unauthorized_client (domain-wide delegation is not granted for this client
// id and scope): Client is unauthorized ...".
std::string explain(const TokenReply& reply);

}  // namespace rp::oauth
