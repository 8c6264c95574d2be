// The ESMTP parameters of MAIL FROM and RCPT TO (RFC 5321 4.1.2 esmtp-param):
// SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), AUTH (RFC 4954 5),
// RET/ENVID/NOTIFY/ORCPT (RFC 3461). Syntax, known keywords and duplicates
// only: what a value means for the transaction is ServerSession's.
// Pure; used by protocol/smtp_command.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/reply.hpp"
#include "protocol/smtp_command.hpp"

namespace rp::protocol {

// The parameter words after the path ("SIZE=100", "SMTPUTF8", ...) into
// `out`; the reply that refuses the command on the first bad one.
std::optional<Reply> parse_mail_params(const std::vector<std::string_view>& words, MailParams& out);
std::optional<Reply> parse_rcpt_params(const std::vector<std::string_view>& words, RcptParams& out);

// A non-negative decimal of at most 19 digits (SIZE=, BDAT's chunk size).
std::optional<std::uint64_t> parse_decimal(std::string_view s);

}  // namespace rp::protocol
