// Client-side TLS set-up shared by the upstream SMTP transport and the
// XOAUTH2 token endpoint (SPEC.md: the token endpoint is verified like the
// upstream): TLS 1.2+, the system CAs plus upstream.ca_file, peer
// verification, SNI and RFC 6125 host-name checking (a mismatch reported as
// X509_V_ERR_HOSTNAME_MISMATCH, so the log says why).
// Asio + OpenSSL: include only from relay/ .cpp files.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>

#include <string>

namespace rp::relay {

// Trust and protocol floor; "" or why ca_file could not be loaded (then
// every handshake should fail with that text rather than trust less).
inline std::string setup_client_tls(boost::asio::ssl::context& ctx, const std::string& ca_file) {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx.set_default_verify_paths(ec);
    ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    if (ca_file.empty()) return "";
    ctx.load_verify_file(ca_file, ec);
    return ec ? "cannot load upstream.ca_file " + ca_file + ": " + ec.message() : "";
}

// SNI (for names, not IP literals) and host-name verification on one stream.
template <class SslStream>
void verify_server_name(SslStream& stream, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    stream.set_verify_mode(boost::asio::ssl::verify_peer);
    stream.set_verify_callback([check = boost::asio::ssl::host_name_verification(host)](
                                   bool preverified, boost::asio::ssl::verify_context& vc) {
        bool ok = check(preverified, vc);
        if (preverified && !ok) X509_STORE_CTX_set_error(vc.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
        return ok;
    });
}

}  // namespace rp::relay
