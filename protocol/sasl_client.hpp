// Client-side SASL strings for the upstream AUTH (RFC 4954): PLAIN
// (RFC 4616), LOGIN (draft-murchison-sasl-login) and Google's XOAUTH2.
//
// Pure functions returning the base64 text to send after "AUTH <mech> " or
// after a 334 challenge. The results contain secrets: callers never log them.
// Used by the delivery engine (protocol/client_session, relay/).
#pragma once

#include <string>
#include <string_view>

namespace rp::protocol {

// base64(authzid NUL username NUL password); authzid is usually empty.
std::string sasl_plain_response(std::string_view username, std::string_view password,
                                std::string_view authzid = {});

// AUTH LOGIN: base64(username) then base64(password), one per 334.
std::string sasl_login_username(std::string_view username);
std::string sasl_login_password(std::string_view password);

// base64("user=" user "\x01auth=Bearer " token "\x01\x01"), the initial
// response of "AUTH XOAUTH2". After a failure Google sends a 334 with a
// base64 JSON error; the client answers it with an empty line and then gets
// the final 5xx.
std::string sasl_xoauth2_response(std::string_view username, std::string_view access_token);

}  // namespace rp::protocol
