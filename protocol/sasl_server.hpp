// Server side of SMTP AUTH (RFC 4954) for the PLAIN (RFC 4616) and LOGIN
// mechanisms: decodes the initial response and the 334 continuation lines
// into credentials. It never verifies them (the driver does, off-loop).
//
// Invariants: "*" cancels (501 5.0.0); malformed base64 is 501 5.5.2; a
// PLAIN message must have exactly two NULs and a non-empty authcid and
// password; no field is longer than kMaxSaslField. The credentials are
// secrets: callers never log them.
// Pure; used by ServerSession and tests.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/reply.hpp"

namespace rp::protocol {

inline constexpr std::size_t kMaxSaslField = 1024;

struct SaslCredentials {
    std::string authzid;
    std::string username;
    std::string password;
};

struct SaslStep {
    enum class Kind { challenge, done, error } kind = Kind::error;
    Reply reply;                  // challenge: the 334 to send; error: the 5xx
    SaslCredentials credentials;  // done
};

class SaslServer {
  public:
    // nullopt for a mechanism we do not offer (caller answers 504 5.5.4).
    static std::optional<SaslServer> create(std::string_view mechanism);

    // The AUTH command's initial response ("=" is an empty response), if any.
    SaslStep start(const std::optional<std::string>& initial_response);
    // One continuation line from the client (without CRLF).
    SaslStep respond(std::string_view line);

    const std::string& mechanism() const { return mechanism_; }

  private:
    enum class Mech { plain, login };
    enum class Await { plain_response, login_username, login_password };
    SaslServer(Mech mech, std::string name) : mech_(mech), mechanism_(std::move(name)) {}
    SaslStep take(std::string_view decoded);

    Mech mech_;
    std::string mechanism_;
    Await await_ = Await::plain_response;
    SaslCredentials creds_;
};

}  // namespace rp::protocol
