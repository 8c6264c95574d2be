// The signed JWT a service account exchanges for an access token
// (RFC 7523 "JWT bearer" grant, Google's domain-wide delegation):
// header {"alg":"RS256","typ":"JWT","kid":...}, claims iss, sub, scope, aud,
// iat, exp, signed RS256 (RSASSA-PKCS1-v1_5 with SHA-256) by OpenSSL's EVP
// API. Pure apart from the signature; OpenSSL types stay in jwt.cpp.
// Used by relay/oauth_tokens.* and the tests (which verify it with the
// public key).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rp::oauth {

// An RSA private key that signs with RS256. Immutable once made; sign() is
// safe from several threads.
class RsaSigner {
  public:
    // nullptr and `error` set when the PEM is not an RSA private key.
    static std::shared_ptr<const RsaSigner> from_pem(std::string_view pem, std::string& error);
    ~RsaSigner();
    RsaSigner(const RsaSigner&) = delete;
    RsaSigner& operator=(const RsaSigner&) = delete;

    // The raw PKCS#1 v1.5 SHA-256 signature; "" when OpenSSL fails.
    std::string sign(std::string_view data) const;

  private:
    struct Key;
    explicit RsaSigner(std::unique_ptr<Key> key);
    std::unique_ptr<Key> key_;
};

struct JwtClaims {
    std::string issuer;           // the service account's client_email
    std::string subject;          // the mailbox to impersonate
    std::string scope;            // "https://mail.google.com/"
    std::string audience;         // the key's token_uri
    std::int64_t issued_at = 0;   // unix seconds
    std::int64_t expires_at = 0;  // unix seconds; Google allows at most iat + 3600
};

// RFC 4648 section 5, without padding (JWT's base64url).
std::string base64url(std::string_view bytes);

// header.claims.signature; "" when signing fails.
std::string make_assertion(const RsaSigner& signer, std::string_view key_id, const JwtClaims& claims);

}  // namespace rp::oauth
