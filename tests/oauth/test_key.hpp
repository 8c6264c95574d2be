// A fresh RSA key for the oauth tests (generated, so no private key is
// checked in) and the service account JSON around it. Also verifies RS256
// signatures with the public half, the way Google's token endpoint does.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>

#include <memory>
#include <string>

namespace rp::oauth::testing {

struct TestKey {
    std::string private_pem;
    std::string public_pem;
};

inline std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

inline TestKey make_test_key(unsigned bits = 2048) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(EVP_RSA_gen(bits), &EVP_PKEY_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), &BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), &BIO_free);
    PEM_write_bio_PrivateKey(priv.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub.get(), pkey.get());
    return TestKey{bio_text(priv.get()), bio_text(pub.get())};
}

// A cached 2048-bit key: generating one per test case would dominate the run.
inline const TestKey& shared_test_key() {
    static const TestKey key = make_test_key();
    return key;
}

inline std::string service_account_json(
    const std::string& private_pem, const std::string& token_uri = "https://oauth2.googleapis.com/token") {
    boost::json::object o{{"type", "service_account"},
                          {"project_id", "relaypool-test"},
                          {"private_key_id", "k1"},
                          {"private_key", private_pem},
                          {"client_email", "relay@relaypool-test.iam.gserviceaccount.com"},
                          {"client_id", "123456789012345678901"},
                          {"token_uri", token_uri}};
    return boost::json::serialize(o);
}

// base64url without padding -> bytes ("" on bad input).
inline std::string base64url_decode(std::string s) {
    for (char& c : s) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (s.size() % 4 != 0) s += '=';
    std::string out(s.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
    if (n < 0) return "";
    std::size_t pad = 0;
    for (auto it = s.rbegin(); it != s.rend() && *it == '='; ++it) ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

inline bool verify_rs256(const std::string& public_pem, const std::string& signed_part,
                         const std::string& signature) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), &BIO_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
        PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!pkey || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1)
        return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

}  // namespace rp::oauth::testing
