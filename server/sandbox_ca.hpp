// The sandbox's TLS files: a small certificate authority and one server
// certificate for localhost / 127.0.0.1 / ::1 that it signed, so that clients
// with default verification (Python's ssl.create_default_context, Node,
// swaks) can connect to `relaypool serve --sandbox` once they trust the CA.
//
// Invariants: the CA's private key is never written anywhere; it signs the
// one server certificate and is dropped, and the CA carries name constraints
// (localhost, 127.0.0.0/8, ::1 only), so trusting ca.pem cannot vouch for any
// other host even if the files leak. The server key file is mode 0600.
// Used by app/sandbox.cpp (and tests/server); production configs use
// tls.certificate / tls.private_key instead.
#pragma once

#include <string>

namespace rp::server {

// PEM texts of a freshly made CA and server certificate (EC P-256,
// valid kSandboxCertDays days). All empty on failure.
struct SandboxCa {
    std::string ca_pem;
    std::string certificate_pem;  // the server certificate only (the CA is the trust anchor)
    std::string private_key_pem;  // the server certificate's key
};
inline constexpr long kSandboxCertDays = 397;
SandboxCa make_sandbox_ca();

// The files in `dir` (created 0700 when missing): ca.pem, server.pem,
// server.key. Reused while server.pem is readable and valid for at least
// one more day; otherwise all three are made anew (clients must then trust
// the new ca.pem).
struct SandboxTlsFiles {
    std::string ca;
    std::string certificate;
    std::string private_key;
    bool created = false;
    std::string error;  // set on failure; then the paths are meaningless
};
SandboxTlsFiles ensure_sandbox_tls(const std::string& dir);

}  // namespace rp::server
