// Parser for one SMTP command line (RFC 5321 4.1 and the extensions the
// server advertises: SIZE, 8BITMIME, SMTPUTF8, CHUNKING, AUTH, plus the DSN
// parameters RET/ENVID/NOTIFY/ORCPT, accepted and kept for later use).
//
// Input: one line WITHOUT its line end (the session frames lines and
// enforces the 512-octet limit). Output: a typed Command, or the Reply that
// answers a malformed line (5xx with an RFC 3463 code). The parser knows no
// session state: sequencing (MAIL before RCPT ...), size limits and the
// SMTPUTF8 check for RCPT belong to ServerSession.
// Pure; used by protocol/server_session and tests/fuzz.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/address.hpp"
#include "protocol/reply.hpp"

namespace rp::protocol {

enum class Verb {
    helo,
    ehlo,
    mail,
    rcpt,
    data,
    bdat,
    rset,
    noop,
    quit,
    vrfy,
    help,
    starttls,
    auth,
    not_implemented,  // EXPN, TURN, ETRN, ...: 502 5.5.1, not counted as an error
    non_smtp,         // "GET / HTTP/1.1" and friends: 421 and close at once
};
std::string_view to_string(Verb verb);

enum class BodyType { none, seven_bit, eight_bit_mime };
std::string_view to_string(BodyType body);

struct MailParams {
    PathResult path;
    std::optional<std::uint64_t> size;  // SIZE=
    BodyType body = BodyType::none;     // BODY=
    bool smtputf8 = false;              // SMTPUTF8
    std::string ret;                    // RET=FULL|HDRS (upper-cased)
    std::string envid;                  // ENVID= (xtext as given)
    std::string auth;                   // AUTH= (RFC 4954 5, xtext as given; not trusted)
};

struct RcptParams {
    PathResult path;     // may be UTF-8: the session checks the transaction's SMTPUTF8
    std::string notify;  // NEVER or a comma list of SUCCESS,FAILURE,DELAY (upper-cased)
    std::string orcpt;   // addr-type ";" xtext, as given
};

struct BdatParams {
    std::uint64_t size = 0;
    bool last = false;
};

struct AuthParams {
    std::string mechanism;                        // upper-cased
    std::optional<std::string> initial_response;  // as given ("=" means empty)
};

struct Command {
    Verb verb = Verb::noop;
    std::string name;      // the verb as sent, upper-cased (for logs)
    std::string argument;  // the rest of the line after one SP (HELO name, VRFY arg ...)
    MailParams mail;       // Verb::mail
    RcptParams rcpt;       // Verb::rcpt
    BdatParams bdat;       // Verb::bdat
    AuthParams auth;       // Verb::auth
};

struct ParseResult {
    std::optional<Command> command;  // set on success
    Reply error;                     // the reply when !command
    bool ok() const { return command.has_value(); }
};

ParseResult parse_command(std::string_view line);

}  // namespace rp::protocol
