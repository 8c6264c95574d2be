// Client-side SASL strings (see sasl_client.hpp).
#include "protocol/sasl_client.hpp"

#include "protocol/base64.hpp"

namespace rp::protocol {

std::string sasl_plain_response(std::string_view username, std::string_view password,
                                std::string_view authzid) {
    std::string raw;
    raw.reserve(authzid.size() + username.size() + password.size() + 2);
    raw.append(authzid);
    raw.push_back('\0');
    raw.append(username);
    raw.push_back('\0');
    raw.append(password);
    return base64_encode(raw);
}

std::string sasl_login_username(std::string_view username) {
    return base64_encode(username);
}

std::string sasl_login_password(std::string_view password) {
    return base64_encode(password);
}

std::string sasl_xoauth2_response(std::string_view username, std::string_view access_token) {
    std::string raw = "user=";
    raw.append(username);
    raw.append(
        "\x01"
        "auth=Bearer ");
    raw.append(access_token);
    raw.append("\x01\x01");
    return base64_encode(raw);
}

}  // namespace rp::protocol
