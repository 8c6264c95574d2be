// What the token endpoint's answers mean: a table of real Google replies
// (and malformed ones) -> token, refusal (disable the account) or
// temporary (blame nobody).
#include <doctest/doctest.h>

#include "oauth/token_reply.hpp"

using namespace rp::oauth;

TEST_CASE("parse_token_reply: Google's answers") {
    struct Row {
        int status;
        const char* body;
        TokenFailure failure;
        const char* error;
    };
    const Row rows[] = {
        {200, R"({"access_token":"ya29.c.abc","expires_in":3599,"token_type":"Bearer"})", TokenFailure::none,
         ""},
        {200, R"({"access_token":"ya29.x","expires_in":3599})", TokenFailure::none, ""},
        // malformed successes are temporary: nobody's fault we can name
        {200, R"({"expires_in":3599,"token_type":"Bearer"})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, R"({"access_token":"ya29.x","token_type":"Bearer"})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, R"({"access_token":"ya29.x","expires_in":0})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, R"({"access_token":"ya29.x","expires_in":-5})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, R"({"access_token":"ya29 x","expires_in":60})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, R"({"access_token":"ya29.x","expires_in":60,"token_type":"MAC"})", TokenFailure::unavailable,
         "malformed token reply"},
        {200, "<html>proxy login</html>", TokenFailure::unavailable, "malformed token reply"},
        // refusals: the account is disabled with the endpoint's error
        {401,
         R"({"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})",
         TokenFailure::denied, "unauthorized_client"},
        {400, R"({"error":"invalid_grant","error_description":"Invalid email or User ID"})",
         TokenFailure::denied, "invalid_grant"},
        {400, R"({"error":"invalid_scope","error_description":"Invalid OAuth scope"})", TokenFailure::denied,
         "invalid_scope"},
        {401, R"({"error":"invalid_client","error_description":"The OAuth client was not found."})",
         TokenFailure::denied, "invalid_client"},
        {403, "Forbidden", TokenFailure::denied, "http 403"},
        // temporary
        {500, R"({"error":"internal_failure"})", TokenFailure::unavailable, "internal_failure"},
        {503, "", TokenFailure::unavailable, "http 503"},
        {429, R"({"error":"rate_limit_exceeded"})", TokenFailure::unavailable, "rate_limit_exceeded"},
        {408, "", TokenFailure::unavailable, "http 408"},
        {302, "", TokenFailure::unavailable, "http 302"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.status);
        CAPTURE(row.body);
        TokenReply r = parse_token_reply(row.status, row.body);
        CHECK(r.failure == row.failure);
        CHECK(r.error == row.error);
        CHECK(r.access_token.empty() == (row.failure != TokenFailure::none));
    }
}

TEST_CASE("parse_token_reply: lifetime and bounds") {
    auto r = parse_token_reply(200, R"({"access_token":"t","expires_in":3599})");
    CHECK(r.lifetime == std::chrono::seconds(3599));
    r = parse_token_reply(200, R"({"access_token":"t","expires_in":99999999999})");
    CHECK(r.lifetime == std::chrono::hours(24));  // bounded: a day at most
    r = parse_token_reply(200, R"({"access_token":")" + std::string(5000, 'a') + R"(","expires_in":60})");
    CHECK(r.failure == TokenFailure::unavailable);
}

TEST_CASE("parse_token_reply: the description is printable and bounded") {
    auto r = parse_token_reply(400, R"({"error":"invalid_grant\r\nX-Injected: 1","error_description":")" +
                                        std::string(1000, 'd') + R"("})");
    CHECK(r.error.find('\r') == std::string::npos);
    CHECK(r.error.find('\n') == std::string::npos);
    CHECK(r.description.size() <= 203);
}

TEST_CASE("explain: what an operator reads in pool status") {
    auto r = parse_token_reply(
        401, R"({"error":"unauthorized_client","error_description":"Client is unauthorized"})");
    CHECK(
        explain(r) ==
        "token endpoint refused: unauthorized_client (domain-wide delegation is not granted to this service "
        "account's client id for the scope): Client is unauthorized");
    CHECK(explain(parse_token_reply(400, R"({"error":"invalid_grant"})"))
              .find("does not exist or is suspended") != std::string::npos);
    CHECK(explain(key_unusable("/run/secrets/sa.json: \"private_key\" is missing")) ==
          "service account key unusable: /run/secrets/sa.json: \"private_key\" is missing");
}
