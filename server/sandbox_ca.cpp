// The sandbox CA and server certificate (see sandbox_ca.hpp). OpenSSL
// objects live in unique_ptrs so every early return frees them; failures
// come back as empty PEMs or an error text, never as exceptions.
#include "server/sandbox_ca.hpp"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "server/openssl_ptr.hpp"

namespace rp::server {
namespace {

using openssl::Bio;
using openssl::Cert;
using openssl::Ext;
using openssl::PKey;

constexpr const char* kCaExtensions[][2] = {
    {"basicConstraints", "critical,CA:TRUE,pathlen:0"},
    {"keyUsage", "critical,keyCertSign,cRLSign"},
    {"subjectKeyIdentifier", "hash"},
    // Even a leaked CA could only vouch for loopback names.
    {"nameConstraints",
     "critical,permitted;DNS:localhost,permitted;IP:127.0.0.0/255.0.0.0,"
     "permitted;IP:::1/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
};
constexpr const char* kServerExtensions[][2] = {
    {"basicConstraints", "critical,CA:FALSE"}, {"keyUsage", "critical,digitalSignature"},
    {"extendedKeyUsage", "serverAuth"},        {"subjectAltName", "DNS:localhost,IP:127.0.0.1,IP:::1"},
    {"subjectKeyIdentifier", "hash"},          {"authorityKeyIdentifier", "keyid:always"},
};

bool add_extension(X509* issuer, X509* subject, const char* name, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, subject, nullptr, nullptr, 0);
    Ext ext(X509V3_EXT_conf(nullptr, &ctx, name, value));
    return ext && X509_add_ext(subject, ext.get(), -1) == 1;
}

bool set_name(X509_NAME* name, const char* common_name) {
    auto add = [name](const char* field, const char* value) {
        return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                          reinterpret_cast<const unsigned char*>(value), -1, -1, 0) == 1;
    };
    return add("O", "relaypool sandbox") && add("CN", common_name);
}

// Version 3, a random positive serial, valid from a minute ago.
Cert new_certificate(EVP_PKEY* key, const char* common_name) {
    Cert cert(X509_new());
    if (!cert) return nullptr;
    unsigned char serial[16];
    if (RAND_bytes(serial, sizeof serial) != 1) return nullptr;
    serial[0] &= 0x7f;
    BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
    bool ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr;
    BN_free(bn);
    ok = ok && X509_set_version(cert.get(), 2) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60) != nullptr;
    ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert.get()), kSandboxCertDays * 24 * 3600) != nullptr;
    ok = ok && X509_set_pubkey(cert.get(), key) == 1;
    ok = ok && set_name(X509_get_subject_name(cert.get()), common_name);
    if (!ok) return nullptr;
    return cert;
}

template <std::size_t N>
bool add_extensions(X509* issuer, X509* subject, const char* const (&list)[N][2]) {
    for (const auto& e : list)
        if (!add_extension(issuer, subject, e[0], e[1])) return false;
    return true;
}

std::string pem_of(X509* cert) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string pem_of(EVP_PKEY* key) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return {};
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The existing files are usable: all present, the key matches server.pem,
// and server.pem stays valid for at least another day.
bool still_usable(const SandboxTlsFiles& f) {
    std::string cert_pem = read_file(f.certificate);
    std::string key_pem = read_file(f.private_key);
    if (cert_pem.empty() || key_pem.empty() || read_file(f.ca).empty()) return false;
    Bio cert_bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
    Bio key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    if (!cert_bio || !key_bio) return false;
    Cert cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    PKey key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!cert || !key || X509_check_private_key(cert.get(), key.get()) != 1) return false;
    std::time_t tomorrow = std::time(nullptr) + 24 * 3600;
    return X509_cmp_time(X509_get0_notAfter(cert.get()), &tomorrow) > 0;
}

// Writes through a temporary file and rename, so a reader never sees half a file.
std::string write_file(const std::string& path, const std::string& text, mode_t mode) {
    const std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
    ::fchmod(fd, mode);  // an older file of that name may have had other bits
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = ::close(fd) == 0 && ok;
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
        return "cannot write " + path + ": " + std::strerror(errno);
    return {};
}

}  // namespace

SandboxCa make_sandbox_ca() {
    PKey ca_key(EVP_EC_gen("P-256"));
    PKey server_key(EVP_EC_gen("P-256"));
    if (!ca_key || !server_key) return {};
    Cert ca = new_certificate(ca_key.get(), "relaypool sandbox CA (loopback only)");
    Cert server = new_certificate(server_key.get(), "localhost");
    if (!ca || !server) return {};
    bool ok = X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) == 1;
    ok = ok && add_extensions(ca.get(), ca.get(), kCaExtensions);
    ok = ok && X509_sign(ca.get(), ca_key.get(), EVP_sha256()) > 0;
    ok = ok && X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get())) == 1;
    ok = ok && add_extensions(ca.get(), server.get(), kServerExtensions);
    ok = ok && X509_sign(server.get(), ca_key.get(), EVP_sha256()) > 0;
    if (!ok) return {};
    SandboxCa out{pem_of(ca.get()), pem_of(server.get()), pem_of(server_key.get())};
    if (out.ca_pem.empty() || out.certificate_pem.empty() || out.private_key_pem.empty()) return {};
    return out;  // ca_key is freed here: nothing else will ever be signed by it
}

SandboxTlsFiles ensure_sandbox_tls(const std::string& dir) {
    SandboxTlsFiles f{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key", false, {}};
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        f.error = "cannot create " + dir + ": " + std::strerror(errno);
        return f;
    }
    if (still_usable(f)) return f;
    SandboxCa made = make_sandbox_ca();
    if (made.ca_pem.empty()) {
        f.error = "cannot generate the sandbox certificates";
        return f;
    }
    f.error = write_file(f.private_key, made.private_key_pem, 0600);
    if (f.error.empty()) f.error = write_file(f.certificate, made.certificate_pem, 0644);
    if (f.error.empty()) f.error = write_file(f.ca, made.ca_pem, 0644);
    f.created = f.error.empty();
    return f;
}

}  // namespace rp::server
