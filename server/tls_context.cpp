// TLS context construction and the self-signed certificate generator.
// OpenSSL objects are owned by small unique_ptr wrappers so every early
// return frees them; errors come back as text, never as exceptions.
#include "server/tls_context.hpp"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>

#include "server/openssl_ptr.hpp"

namespace rp::server {
namespace {

namespace ssl = boost::asio::ssl;

using openssl::Bio;
using openssl::Cert;
using openssl::Ext;
using openssl::PKey;

// Mozilla "intermediate" TLS 1.2 suites: forward secrecy and AEAD only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error(const std::string& what) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return what;
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    return what + ": " + buf;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

bool add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

Cert build_certificate(EVP_PKEY* key, const std::string& hostname) {
    Cert cert(X509_new());
    if (!cert) return nullptr;
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return nullptr;
    serial[0] &= 0x7f;  // positive
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
    BN_free(bn);
    ok = ok && X509_set_version(cert.get(), 2) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600) != nullptr;
    ok = ok && X509_set_pubkey(cert.get(), key) == 1;
    X509_NAME* name = X509_get_subject_name(cert.get());
    // A CN is limited to 64 bytes; the SAN carries the full name anyway.
    std::string cn = hostname.substr(0, 64);
    ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) == 1;
    ok = ok && X509_set_issuer_name(cert.get(), name) == 1;
    ok = ok && add_extension(cert.get(), NID_subject_alt_name, "DNS:" + hostname + ",IP:127.0.0.1");
    ok = ok && add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    ok = ok && add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    ok = ok && X509_sign(cert.get(), key, EVP_sha256()) > 0;
    if (!ok) return nullptr;
    return cert;
}

std::string apply_policy(ssl::context& ctx, const config::Tls& tls) {
    SSL_CTX* native = ctx.native_handle();
    int min = tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(native, min) != 1)
        return openssl_error("cannot set the TLS minimum version");
    SSL_CTX_set_options(native,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1)
        return openssl_error("cannot set the TLS 1.2 ciphers");
    // Idle sessions give their 16+ KiB record buffers back to the allocator.
    SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
    return {};
}

std::string load_files(ssl::context& ctx, const config::Tls& tls) {
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(tls.certificate, ec);
    if (ec) return openssl_error("cannot load tls.certificate " + tls.certificate);
    ctx.use_private_key_file(tls.private_key, ssl::context::pem, ec);
    if (ec) return openssl_error("cannot load tls.private_key " + tls.private_key);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
        return openssl_error("tls.private_key does not match tls.certificate");
    return {};
}

std::string load_self_signed(ssl::context& ctx, const std::string& hostname) {
    SelfSigned pair = make_self_signed(hostname);
    if (pair.certificate_pem.empty()) return "cannot generate a self-signed certificate";
    boost::system::error_code ec;
    ctx.use_certificate_chain(boost::asio::buffer(pair.certificate_pem), ec);
    if (ec) return openssl_error("cannot use the self-signed certificate");
    ctx.use_private_key(boost::asio::buffer(pair.private_key_pem), ssl::context::pem, ec);
    if (ec) return openssl_error("cannot use the self-signed key");
    return {};
}

}  // namespace

SelfSigned make_self_signed(const std::string& hostname) {
    PKey key(EVP_EC_gen("P-256"));
    if (!key) return {};
    Cert cert = build_certificate(key.get(), hostname.empty() ? "localhost" : hostname);
    if (!cert) return {};
    Bio cert_bio(BIO_new(BIO_s_mem()));
    Bio key_bio(BIO_new(BIO_s_mem()));
    if (!cert_bio || !key_bio) return {};
    if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) return {};
    if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return {};
    return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

TlsContextResult make_tls_context(const config::Tls& tls, const std::string& hostname) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    std::string error = apply_policy(*ctx, tls);
    if (error.empty()) error = tls.self_signed ? load_self_signed(*ctx, hostname) : load_files(*ctx, tls);
    if (!error.empty()) return {nullptr, error};
    return {std::move(ctx), {}};
}

}  // namespace rp::server
