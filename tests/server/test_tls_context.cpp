// TLS contexts: the self-signed certificate (key type, names, validity), the
// policy (minimum version, no compression, no renegotiation, AEAD-only 1.2
// suites), and errors that name the file for bad certificate/key paths.
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "server/tls_context.hpp"

using rp::server::make_self_signed;
using rp::server::make_tls_context;

namespace {

std::unique_ptr<X509, decltype(&X509_free)> parse_cert(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return {cert, X509_free};
}

std::string temp_file(const std::string& name, const std::string& content) {
    std::string path = std::string("/tmp/rp_tls_test_") + std::to_string(::getpid()) + "_" + name;
    std::ofstream(path) << content;
    return path;
}

}  // namespace

TEST_CASE("self-signed certificate: EC P-256, CN and SAN, 30 days") {
    auto pair = make_self_signed("relay.example.com");
    REQUIRE_FALSE(pair.certificate_pem.empty());
    REQUIRE_FALSE(pair.private_key_pem.empty());
    auto cert = parse_cert(pair.certificate_pem);
    REQUIRE(cert);

    EVP_PKEY* key = X509_get0_pubkey(cert.get());
    REQUIRE(key);
    CHECK(EVP_PKEY_base_id(key) == EVP_PKEY_EC);
    char group[64] = {};
    size_t len = 0;
    REQUIRE(EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1);
    CHECK(std::string(group) == "prime256v1");

    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
    CHECK(std::string(cn) == "relay.example.com");
    CHECK(X509_check_host(cert.get(), "relay.example.com", 0, 0, nullptr) == 1);
    CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
    CHECK(X509_check_host(cert.get(), "other.example.com", 0, 0, nullptr) != 1);

    int days = 0, seconds = 0;
    REQUIRE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()),
                           X509_get0_notAfter(cert.get())) == 1);
    CHECK(days == 30);  // 30 days plus the one minute of clock-skew slack
    CHECK(X509_cmp_current_time(X509_get0_notBefore(cert.get())) < 0);
    CHECK(X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0);
}

TEST_CASE("self-signed certificates differ per call (fresh key and serial)") {
    auto a = make_self_signed("h");
    auto b = make_self_signed("h");
    CHECK(a.private_key_pem != b.private_key_pem);
    CHECK(a.certificate_pem != b.certificate_pem);
}

TEST_CASE("policy: minimum version, options, ciphers") {
    struct Case {
        std::string min_version;
        int expected;
    };
    for (const auto& c : {Case{"1.2", TLS1_2_VERSION}, Case{"1.3", TLS1_3_VERSION}}) {
        CAPTURE(c.min_version);
        rp::config::Tls tls;
        tls.self_signed = true;
        tls.min_version = c.min_version;
        auto result = make_tls_context(tls, "relay.test");
        REQUIRE_MESSAGE(result.context, result.error);
        SSL_CTX* ctx = result.context->native_handle();
        CHECK(SSL_CTX_get_min_proto_version(ctx) == c.expected);
        auto options = SSL_CTX_get_options(ctx);
        CHECK((options & SSL_OP_NO_COMPRESSION) != 0);
        CHECK((options & SSL_OP_NO_RENEGOTIATION) != 0);
        CHECK((SSL_CTX_get_mode(ctx) & SSL_MODE_RELEASE_BUFFERS) != 0);

        SSL* ssl = SSL_new(ctx);
        REQUIRE(ssl);
        STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl);
        for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
            const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
            std::string name = SSL_CIPHER_get_name(cipher);
            CAPTURE(name);
            CHECK(SSL_CIPHER_is_aead(cipher) == 1);
            // TLS 1.3 suites are named TLS_*; every 1.2 suite must be ECDHE.
            if (name.rfind("TLS_", 0) != 0) CHECK(name.rfind("ECDHE-", 0) == 0);
        }
        SSL_free(ssl);
    }
}

TEST_CASE("certificate and key files: loaded, or an error naming the file") {
    auto pair = make_self_signed("files.test");
    auto other = make_self_signed("other.test");
    std::string cert = temp_file("cert.pem", pair.certificate_pem);
    std::string key = temp_file("key.pem", pair.private_key_pem);
    std::string wrong_key = temp_file("wrong.pem", other.private_key_pem);
    std::string garbage = temp_file("garbage.pem", "not a certificate\n");

    struct Case {
        const char* name;
        std::string certificate, private_key;
        bool ok;
        std::string error_contains;
    };
    const Case cases[] = {
        {"good pair", cert, key, true, ""},
        {"missing certificate", "/nonexistent/cert.pem", key, false, "/nonexistent/cert.pem"},
        {"missing key", cert, "/nonexistent/key.pem", false, "/nonexistent/key.pem"},
        {"garbage certificate", garbage, key, false, garbage},
        {"key of another certificate", cert, wrong_key, false, wrong_key},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.name));
        rp::config::Tls tls;
        tls.certificate = c.certificate;
        tls.private_key = c.private_key;
        auto result = make_tls_context(tls, "files.test");
        CHECK(static_cast<bool>(result.context) == c.ok);
        if (!c.ok) CHECK_MESSAGE(result.error.find(c.error_contains) != std::string::npos, result.error);
    }
    for (const auto& f : {cert, key, wrong_key, garbage}) std::remove(f.c_str());
}
