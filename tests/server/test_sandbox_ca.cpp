// The sandbox CA (server/sandbox_ca.hpp): the server certificate verifies
// against ca.pem for localhost, 127.0.0.1 and ::1 with OpenSSL's own chain
// verification (what Python, Node and swaks use), the CA may vouch for
// loopback names only, the files are reused while valid and made anew when
// not, and the key file is private.
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "server/sandbox_ca.hpp"

namespace {

using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

CertPtr parse(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return {cert, X509_free};
}

// X509_V_OK when `leaf` chains to `ca` and matches host (or IP when ip).
int verify(X509* ca, X509* leaf, const std::string& name, bool ip) {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    else
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), 0);
    int result = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return result;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("make_sandbox_ca: the server certificate verifies for loopback names only") {
    auto made = rp::server::make_sandbox_ca();
    REQUIRE_FALSE(made.ca_pem.empty());
    auto ca = parse(made.ca_pem);
    auto leaf = parse(made.certificate_pem);
    REQUIRE(ca);
    REQUIRE(leaf);
    CHECK(verify(ca.get(), leaf.get(), "localhost", false) == X509_V_OK);
    CHECK(verify(ca.get(), leaf.get(), "127.0.0.1", true) == X509_V_OK);
    CHECK(verify(ca.get(), leaf.get(), "::1", true) == X509_V_OK);
    CHECK(verify(ca.get(), leaf.get(), "example.com", false) == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(verify(ca.get(), leaf.get(), "192.0.2.1", true) == X509_V_ERR_IP_ADDRESS_MISMATCH);
    CHECK(X509_check_ca(ca.get()) == 1);
    CHECK(X509_check_ca(leaf.get()) == 0);
    // Name constraints on the CA: present and critical.
    int critical = -1;
    auto* nc =
        static_cast<NAME_CONSTRAINTS*>(X509_get_ext_d2i(ca.get(), NID_name_constraints, &critical, nullptr));
    CHECK(nc != nullptr);
    CHECK(critical == 1);
    NAME_CONSTRAINTS_free(nc);
    // Each call makes a new CA: the leaf of one does not verify under another.
    auto other = parse(rp::server::make_sandbox_ca().ca_pem);
    CHECK(verify(other.get(), leaf.get(), "localhost", false) != X509_V_OK);
}

TEST_CASE("ensure_sandbox_tls: made once with private modes, reused, made anew when broken") {
    char tmp[] = "/tmp/rp-sandbox-ca-XXXXXX";
    REQUIRE(::mkdtemp(tmp) != nullptr);
    const std::string dir = std::string(tmp) + "/data/tls";  // parents are created too
    auto first = rp::server::ensure_sandbox_tls(dir);
    REQUIRE(first.error == "");
    CHECK(first.created);
    CHECK(first.ca == dir + "/ca.pem");
    struct stat st {};
    REQUIRE(::stat(first.private_key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK(slurp(first.ca).find("PRIVATE KEY") == std::string::npos);
    const std::string ca_pem = slurp(first.ca);

    auto second = rp::server::ensure_sandbox_tls(dir);
    REQUIRE(second.error == "");
    CHECK_FALSE(second.created);
    CHECK(slurp(second.ca) == ca_pem);

    std::ofstream(first.certificate) << "garbage";
    auto third = rp::server::ensure_sandbox_tls(dir);
    REQUIRE(third.error == "");
    CHECK(third.created);
    CHECK(slurp(third.ca) != ca_pem);
    auto ca = parse(slurp(third.ca));
    auto leaf = parse(slurp(third.certificate));
    CHECK(verify(ca.get(), leaf.get(), "localhost", false) == X509_V_OK);

    CHECK(rp::server::ensure_sandbox_tls("/proc/no-such-dir/tls").error != "");
    std::filesystem::remove_all(tmp);
}
