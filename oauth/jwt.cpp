// RS256 JWT assertions (see jwt.hpp). OpenSSL does the cryptography and the
// base64; Boost.JSON writes the header and claims (so every string is
// escaped correctly whatever the key file holds).
#include "oauth/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

namespace rp::oauth {

struct RsaSigner::Key {
    EVP_PKEY* pkey = nullptr;
    ~Key() { EVP_PKEY_free(pkey); }
};

RsaSigner::RsaSigner(std::unique_ptr<Key> key) : key_(std::move(key)) {}
RsaSigner::~RsaSigner() = default;

std::shared_ptr<const RsaSigner> RsaSigner::from_pem(std::string_view pem, std::string& error) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                  &BIO_free);
    auto key = std::make_unique<Key>();
    // A null passphrase callback: an encrypted key fails instead of prompting.
    if (bio)
        key->pkey = PEM_read_bio_PrivateKey(
            bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
    if (!key->pkey) {
        error = "not a PEM private key (or an encrypted one)";
        return nullptr;
    }
    if (EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA) {
        error = "not an RSA key (RS256 needs RSA)";
        return nullptr;
    }
    if (EVP_PKEY_get_bits(key->pkey) < 2048) {
        error = "shorter than 2048 bits";
        return nullptr;
    }
    return std::shared_ptr<const RsaSigner>(new RsaSigner(std::move(key)));
}

std::string RsaSigner::sign(std::string_view data) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_->pkey) != 1) return "";
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t length = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &length, in, data.size()) != 1) return "";
    std::string signature(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length, in,
                       data.size()) != 1)
        return "";
    signature.resize(length);
    return signature;
}

std::string base64url(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') out.pop_back();
    for (char& c : out) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    return out;
}

std::string make_assertion(const RsaSigner& signer, std::string_view key_id, const JwtClaims& claims) {
    boost::json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
    if (!key_id.empty()) header["kid"] = key_id;
    boost::json::object body{{"iss", claims.issuer},   {"sub", claims.subject},   {"scope", claims.scope},
                             {"aud", claims.audience}, {"iat", claims.issued_at}, {"exp", claims.expires_at}};
    const std::string signing_input =
        base64url(boost::json::serialize(header)) + "." + base64url(boost::json::serialize(body));
    const std::string signature = signer.sign(signing_input);
    if (signature.empty()) return "";
    return signing_input + "." + base64url(signature);
}

}  // namespace rp::oauth
