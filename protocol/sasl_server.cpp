// AUTH PLAIN / LOGIN server codec (see sasl_server.hpp).
#include "protocol/sasl_server.hpp"

#include "protocol/base64.hpp"

namespace rp::protocol {
namespace {

SaslStep error(Reply reply) {
    return SaslStep{SaslStep::Kind::error, std::move(reply), {}};
}
SaslStep challenge(std::string_view base64) {
    return SaslStep{SaslStep::Kind::challenge, Reply::auth_challenge(base64), {}};
}
Reply malformed() {
    return Reply::syntax("Malformed authentication response");
}

constexpr std::string_view kUsernamePrompt = "VXNlcm5hbWU6";  // "Username:"
constexpr std::string_view kPasswordPrompt = "UGFzc3dvcmQ6";  // "Password:"

}  // namespace

std::optional<SaslServer> SaslServer::create(std::string_view mechanism) {
    if (mechanism == "PLAIN") return SaslServer(Mech::plain, "PLAIN");
    if (mechanism == "LOGIN") return SaslServer(Mech::login, "LOGIN");
    return std::nullopt;
}

SaslStep SaslServer::start(const std::optional<std::string>& initial_response) {
    await_ = mech_ == Mech::plain ? Await::plain_response : Await::login_username;
    if (!initial_response) return challenge(mech_ == Mech::plain ? "" : kUsernamePrompt);
    return respond(*initial_response);
}

SaslStep SaslServer::respond(std::string_view line) {
    if (line == "*") return error(Reply::auth_cancelled());
    if (line == "=") return take("");  // RFC 4954 4: "=" is an empty initial response
    auto decoded = base64_decode(line);
    if (!decoded) return error(Reply::auth_bad_base64());
    return take(*decoded);
}

SaslStep SaslServer::take(std::string_view decoded) {
    if (decoded.size() > 3 * kMaxSaslField) return error(malformed());
    switch (await_) {
        case Await::plain_response: {
            // authzid NUL authcid NUL passwd
            const std::size_t a = decoded.find('\0');
            const std::size_t b = a == std::string_view::npos ? a : decoded.find('\0', a + 1);
            if (b == std::string_view::npos || decoded.find('\0', b + 1) != std::string_view::npos)
                return error(malformed());
            creds_.authzid = std::string(decoded.substr(0, a));
            creds_.username = std::string(decoded.substr(a + 1, b - a - 1));
            creds_.password = std::string(decoded.substr(b + 1));
            break;
        }
        case Await::login_username:
            if (decoded.find('\0') != std::string_view::npos) return error(malformed());
            creds_.username = std::string(decoded);
            await_ = Await::login_password;
            if (creds_.username.empty() || creds_.username.size() > kMaxSaslField) return error(malformed());
            return challenge(kPasswordPrompt);
        case Await::login_password:
            if (decoded.find('\0') != std::string_view::npos) return error(malformed());
            creds_.password = std::string(decoded);
            break;
    }
    if (creds_.username.empty() || creds_.password.empty() || creds_.username.size() > kMaxSaslField ||
        creds_.password.size() > kMaxSaslField || creds_.authzid.size() > kMaxSaslField)
        return error(malformed());
    return SaslStep{SaslStep::Kind::done, Reply{}, std::move(creds_)};
}

}  // namespace rp::protocol
