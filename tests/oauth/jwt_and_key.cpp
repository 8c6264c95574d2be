// JWT assertions verified the way Google verifies them (RS256 signature with
// the public key, then the claims), and service account key files: every
// field check with the reason it gives.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "oauth/jwt.hpp"
#include "oauth/service_account.hpp"
#include "test_key.hpp"

using namespace rp::oauth;
using namespace rp::oauth::testing;

namespace {

struct Parts {
    boost::json::object header, claims;
    std::string signed_part, signature;
};

Parts split(const std::string& jwt) {
    const auto first = jwt.find('.');
    const auto second = jwt.find('.', first + 1);
    REQUIRE(first != std::string::npos);
    REQUIRE(second != std::string::npos);
    Parts p;
    p.header = boost::json::parse(base64url_decode(jwt.substr(0, first))).as_object();
    p.claims = boost::json::parse(base64url_decode(jwt.substr(first + 1, second - first - 1))).as_object();
    p.signed_part = jwt.substr(0, second);
    p.signature = base64url_decode(jwt.substr(second + 1));
    return p;
}

}  // namespace

TEST_CASE("base64url: RFC 4648 section 5 without padding") {
    CHECK(base64url("") == "");
    CHECK(base64url("f") == "Zg");
    CHECK(base64url("fo") == "Zm8");
    CHECK(base64url("foo") == "Zm9v");
    CHECK(base64url("\xfb\xff\xbf") == "-_-_");  // '+' and '/' in standard base64
}

TEST_CASE("make_assertion: an RS256 JWT whose signature and claims Google would accept") {
    const TestKey& key = shared_test_key();
    std::string error;
    auto signer = RsaSigner::from_pem(key.private_pem, error);
    REQUIRE(signer);
    const JwtClaims claims{"relay@p.iam.gserviceaccount.com",
                           "billing@agency.example",
                           "https://mail.google.com/",
                           "https://oauth2.googleapis.com/token",
                           1700000000,
                           1700003600};
    const std::string jwt = make_assertion(*signer, "k1", claims);
    Parts p = split(jwt);
    CHECK(verify_rs256(key.public_pem, p.signed_part, p.signature));
    CHECK(p.header.at("alg").as_string() == "RS256");
    CHECK(p.header.at("typ").as_string() == "JWT");
    CHECK(p.header.at("kid").as_string() == "k1");
    CHECK(p.claims.at("iss").as_string() == "relay@p.iam.gserviceaccount.com");
    CHECK(p.claims.at("sub").as_string() == "billing@agency.example");
    CHECK(p.claims.at("scope").as_string() == "https://mail.google.com/");
    CHECK(p.claims.at("aud").as_string() == "https://oauth2.googleapis.com/token");
    CHECK(p.claims.at("iat").as_int64() == 1700000000);
    CHECK(p.claims.at("exp").as_int64() == 1700003600);

    SUBCASE("a changed claim no longer verifies") {
        std::string tampered = p.signed_part;
        tampered[tampered.size() - 2] ^= 1;
        CHECK_FALSE(verify_rs256(key.public_pem, tampered, p.signature));
    }
    SUBCASE("another key's signature does not verify") {
        const TestKey other = make_test_key();
        CHECK_FALSE(verify_rs256(other.public_pem, p.signed_part, p.signature));
    }
}

TEST_CASE("make_assertion: strings with quotes and non-ASCII are escaped JSON") {
    std::string error;
    auto signer = RsaSigner::from_pem(shared_test_key().private_pem, error);
    REQUIRE(signer);
    const JwtClaims claims{"a\"b@x", "j\u00f6rg@example.org", "s", "https://t/", 1, 2};
    Parts p = split(make_assertion(*signer, "", claims));
    CHECK(p.claims.at("iss").as_string() == "a\"b@x");
    CHECK(p.claims.at("sub").as_string() == "j\u00f6rg@example.org");
    CHECK_FALSE(p.header.contains("kid"));
}

TEST_CASE("RsaSigner::from_pem refuses what cannot sign RS256") {
    std::string error;
    CHECK_FALSE(RsaSigner::from_pem("not a key", error));
    CHECK(error.find("not a PEM private key") != std::string::npos);
    error.clear();
    CHECK_FALSE(RsaSigner::from_pem(make_test_key(1024).private_pem, error));
    CHECK(error == "shorter than 2048 bits");
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PrivateKey(bio.get(), ec.get(), nullptr, nullptr, 0, nullptr, nullptr);
    error.clear();
    CHECK_FALSE(RsaSigner::from_pem(bio_text(bio.get()), error));
    CHECK(error == "not an RSA key (RS256 needs RSA)");
}

TEST_CASE("parse_service_account: a Google key file") {
    auto r = parse_service_account(service_account_json(shared_test_key().private_pem));
    REQUIRE(r.key);
    CHECK(r.error.empty());
    CHECK(r.key->client_email == "relay@relaypool-test.iam.gserviceaccount.com");
    CHECK(r.key->client_id == "123456789012345678901");
    CHECK(r.key->private_key_id == "k1");
    CHECK(r.key->token_url.host == "oauth2.googleapis.com");
    CHECK(r.key->token_url.port == "443");
    CHECK(r.key->token_url.target == "/token");
    CHECK(r.key->signer);
}

TEST_CASE("parse_service_account: each wrong field is named, the key never appears") {
    const std::string pem = shared_test_key().private_pem;
    auto with = [&](const char* field, boost::json::value v) {
        auto o = boost::json::parse(service_account_json(pem)).as_object();
        if (v.is_null())
            o.erase(field);
        else
            o[field] = v;
        return boost::json::serialize(o);
    };
    struct Row {
        std::string text;
        std::string expect;
    };
    const Row rows[] = {
        {"{", "not a JSON object"},
        {"[]", "not a JSON object"},
        {with("type", "authorized_user"), "\"type\" is not \"service_account\""},
        {with("client_email", nullptr), "\"client_email\" is missing"},
        {with("client_email", 42), "\"client_email\" is missing"},
        {with("token_uri", "http://oauth2.googleapis.com/token"), "\"token_uri\" is missing or not an https"},
        {with("token_uri", nullptr), "\"token_uri\""},
        {with("private_key", nullptr), "\"private_key\" is missing"},
        {with("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
         "\"private_key\": not a PEM private key"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.expect);
        auto r = parse_service_account(row.text);
        CHECK_FALSE(r.key);
        CHECK(r.error.find(row.expect) != std::string::npos);
        CHECK(r.error.find("PRIVATE KEY") == std::string::npos);
    }
}

TEST_CASE("parse_https_url") {
    struct Row {
        const char* url;
        bool ok;
        const char* host;
        const char* port;
        const char* target;
    };
    const Row rows[] = {
        {"https://oauth2.googleapis.com/token", true, "oauth2.googleapis.com", "443", "/token"},
        {"https://127.0.0.1:8443/token?x=1", true, "127.0.0.1", "8443", "/token?x=1"},
        {"https://[::1]:8443/t", true, "::1", "8443", "/t"},
        {"https://host", true, "host", "443", "/"},
        {"http://host/token", false, "", "", ""},
        {"https://user@host/token", false, "", "", ""},
        {"https://:443/token", false, "", "", ""},
        {"https://host:/token", false, "", "", ""},
        {"https://host:99999999/token", false, "", "", ""},
        {"https://ho st/token", false, "", "", ""},
        {"https://host:0/token", false, "", "", ""},
        {"https://host:65536/token", false, "", "", ""},
        {"https://host:065535/token", false, "", "", ""},
        {"https://host/to ken", false, "", "", ""},
        {"https://host/token\r\nX: y", false, "", "", ""},
        {"https://host/token#frag", false, "", "", ""},
        {"", false, "", "", ""},
    };
    for (const auto& row : rows) {
        CAPTURE(row.url);
        auto u = parse_https_url(row.url);
        CHECK(u.has_value() == row.ok);
        if (!u || !row.ok) continue;
        CHECK(u->host == row.host);
        CHECK(u->port == row.port);
        CHECK(u->target == row.target);
    }
    CHECK(parse_https_url("https://[::1]:8443/t")->authority() == "[::1]:8443");
    CHECK(parse_https_url("https://oauth2.googleapis.com/token")->authority() == "oauth2.googleapis.com");
    CHECK(parse_https_url("https://127.0.0.1:8443/token")->authority() == "127.0.0.1:8443");
}

TEST_CASE("load_service_account_file: unreadable and oversized files name the path") {
    auto missing = load_service_account_file("/nonexistent/sa.json");
    CHECK_FALSE(missing.key);
    CHECK(missing.error.find("/nonexistent/sa.json: cannot read") == 0);

    const std::string path = "/tmp/rp_test_sa_" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream out(path);
        out << service_account_json(shared_test_key().private_pem);
    }
    CHECK(load_service_account_file(path).key);
    {
        std::ofstream out(path);
        out << std::string(1024 * 1024 + 1, ' ');
    }
    auto big = load_service_account_file(path);
    CHECK_FALSE(big.key);
    CHECK(big.error.find("larger than 1 MiB") != std::string::npos);
    std::remove(path.c_str());
}
