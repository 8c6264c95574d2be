// Server-side TLS contexts for the submission listeners (SPEC.md tls.*).
//
// A context is built once per (re)load and shared: every connection holds a
// shared_ptr to the context it started with, so SIGHUP can swap in a new
// certificate for new connections while old sessions keep theirs.
// Policy: TLS 1.2 minimum (or 1.3), ECDHE + AEAD suites only for 1.2, no
// compression, no renegotiation, idle read/write buffers released (memory per
// idle session stays small). Used by server/ and app/ only.
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace rp::server {

struct TlsContextResult {
    std::shared_ptr<boost::asio::ssl::context> context;  // null on error
    std::string error;                                   // human-readable, names the file
};

// Certificate chain + key from tls.certificate / tls.private_key, or a
// throwaway self-signed certificate (tls.self_signed) for `hostname`.
TlsContextResult make_tls_context(const config::Tls& tls, const std::string& hostname);

// The self-signed certificate and key as PEM: EC P-256, CN = hostname,
// SAN DNS:hostname + IP:127.0.0.1, valid 30 days. Empty strings on failure.
struct SelfSigned {
    std::string certificate_pem;
    std::string private_key_pem;
};
SelfSigned make_self_signed(const std::string& hostname);

}  // namespace rp::server
