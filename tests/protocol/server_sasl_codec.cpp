// AUTH PLAIN / LOGIN server codec and the client strings (PLAIN, LOGIN,
// XOAUTH2): initial responses, "*" cancel, "=" empty response, bad base64.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/base64.hpp"
#include "protocol/sasl_client.hpp"
#include "protocol/sasl_server.hpp"

using namespace rp::protocol;
using namespace std::string_literals;

namespace {

struct Exchange {
    std::string mechanism;
    std::optional<std::string> initial;
    std::vector<std::string> lines;  // client continuation lines
    // expected: the challenges sent (334 texts) and the final outcome
    std::vector<std::string> challenges;
    SaslStep::Kind final_kind;
    int final_code;  // for errors
    std::string final_enhanced;
    SaslCredentials creds;  // for done
};

SaslStep run(const Exchange& e, std::vector<std::string>& challenges) {
    auto server = SaslServer::create(e.mechanism);
    REQUIRE(server);
    SaslStep step = server->start(e.initial);
    std::size_t i = 0;
    while (step.kind == SaslStep::Kind::challenge) {
        challenges.push_back(step.reply.lines.at(0));
        REQUIRE(step.reply.code == 334);
        if (i >= e.lines.size()) return step;
        step = server->respond(e.lines[i++]);
    }
    return step;
}

}  // namespace

TEST_CASE("SASL server exchanges") {
    const std::string plain_ok = base64_encode("\0user\0secret"s);
    const std::vector<Exchange> cases = {
        {"PLAIN", plain_ok, {}, {}, SaslStep::Kind::done, 0, "", {"", "user", "secret"}},
        {"PLAIN",
         base64_encode("admin\0user\0pw"s),
         {},
         {},
         SaslStep::Kind::done,
         0,
         "",
         {"admin", "user", "pw"}},
        {"PLAIN", std::nullopt, {plain_ok}, {""}, SaslStep::Kind::done, 0, "", {"", "user", "secret"}},
        {"PLAIN", std::nullopt, {"*"}, {""}, SaslStep::Kind::error, 501, "5.0.0", {}},
        {"PLAIN", "*", {}, {}, SaslStep::Kind::error, 501, "5.0.0", {}},
        {"PLAIN", "=", {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", "!!!!", {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", "AGEAYg", {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},  // missing padding
        {"PLAIN", std::nullopt, {"not base64!"}, {""}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", base64_encode("user\0secret"s), {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", base64_encode("a\0b\0c\0d"s), {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", base64_encode("\0\0secret"s), {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"PLAIN", base64_encode("\0user\0"s), {}, {}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"LOGIN",
         std::nullopt,
         {base64_encode("user"), base64_encode("secret")},
         {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
         SaslStep::Kind::done,
         0,
         "",
         {"", "user", "secret"}},
        {"LOGIN",
         base64_encode("user"),
         {base64_encode("secret")},
         {"UGFzc3dvcmQ6"},
         SaslStep::Kind::done,
         0,
         "",
         {"", "user", "secret"}},
        {"LOGIN", std::nullopt, {"*"}, {"VXNlcm5hbWU6"}, SaslStep::Kind::error, 501, "5.0.0", {}},
        {"LOGIN",
         std::nullopt,
         {base64_encode("user"), "*"},
         {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
         SaslStep::Kind::error,
         501,
         "5.0.0",
         {}},
        {"LOGIN", std::nullopt, {"%%%"}, {"VXNlcm5hbWU6"}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"LOGIN", std::nullopt, {""}, {"VXNlcm5hbWU6"}, SaslStep::Kind::error, 501, "5.5.2", {}},
        {"LOGIN",
         std::nullopt,
         {base64_encode("a\0b"s)},
         {"VXNlcm5hbWU6"},
         SaslStep::Kind::error,
         501,
         "5.5.2",
         {}},
        {"LOGIN",
         std::nullopt,
         {base64_encode("user"), ""},
         {"VXNlcm5hbWU6", "UGFzc3dvcmQ6"},
         SaslStep::Kind::error,
         501,
         "5.5.2",
         {}},
        {"PLAIN",
         base64_encode("\0"s + std::string(kMaxSaslField + 1, 'u') + "\0pw"s),
         {},
         {},
         SaslStep::Kind::error,
         501,
         "5.5.2",
         {}},
    };
    int n = 0;
    for (const auto& c : cases) {
        CAPTURE(n++);
        std::vector<std::string> challenges;
        SaslStep step = run(c, challenges);
        CHECK(challenges == c.challenges);
        REQUIRE(step.kind == c.final_kind);
        if (step.kind == SaslStep::Kind::error) {
            CHECK(step.reply.code == c.final_code);
            CHECK(step.reply.enhanced == c.final_enhanced);
        } else {
            CHECK(step.credentials.authzid == c.creds.authzid);
            CHECK(step.credentials.username == c.creds.username);
            CHECK(step.credentials.password == c.creds.password);
        }
    }
}

TEST_CASE("SASL server offers only PLAIN and LOGIN") {
    CHECK(SaslServer::create("PLAIN"));
    CHECK(SaslServer::create("LOGIN"));
    CHECK_FALSE(SaslServer::create("XOAUTH2"));
    CHECK_FALSE(SaslServer::create("CRAM-MD5"));
    CHECK_FALSE(SaslServer::create("plain"));  // the parser upper-cases
}

TEST_CASE("SASL client strings") {
    CHECK(sasl_plain_response("user", "secret") == base64_encode("\0user\0secret"s));
    CHECK(sasl_plain_response("user", "secret", "admin") == base64_encode("admin\0user\0secret"s));
    CHECK(sasl_login_username("user") == "dXNlcg==");
    CHECK(sasl_login_password("secret") == "c2VjcmV0");
    // Google's documented example: user=someuser@example.com^Aauth=Bearer ya29.vF9dft4...^A^A
    CHECK(*base64_decode(sasl_xoauth2_response("someuser@example.com",
                                               "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")) ==
          "user=someuser@example.com\x01"
          "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
    // and round trip through the server codec
    auto server = SaslServer::create("PLAIN");
    auto step = server->start(sasl_plain_response("u@x.example", "p w"));
    REQUIRE(step.kind == SaslStep::Kind::done);
    CHECK(step.credentials.username == "u@x.example");
    CHECK(step.credentials.password == "p w");
}
