// Base64 (RFC 4648, standard alphabet, padded) for SMTP AUTH and XOAUTH2.
// Pure functions; decode is strict: it rejects bad characters, bad padding
// and trailing garbage (RFC 4954 says such AUTH input is a 501).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rp::protocol {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace rp::protocol
