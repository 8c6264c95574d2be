// Reply values and the one multi-line formatter (see reply.hpp).
#include "protocol/reply.hpp"

namespace rp::protocol {
namespace {

// CR/LF (and other controls except TAB) in reply text would let untrusted
// text (a HELO name, an address) forge reply lines: they become spaces.
std::string clean_line(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 && c != '\t') c = ' ';
    }
    return out;
}

}  // namespace

Reply Reply::make(int code, std::string_view enhanced, std::string_view text) {
    return Reply{code, std::string(enhanced), {clean_line(text)}};
}

std::string Reply::format() const {
    std::string out;
    const std::string code_text = std::to_string(code);
    const std::size_t n = lines.empty() ? 1 : lines.size();
    for (std::size_t i = 0; i < n; ++i) {
        out += code_text;
        out += (i + 1 < n) ? '-' : ' ';
        if (!enhanced.empty()) {
            out += enhanced;
            out += ' ';
        }
        if (!lines.empty()) out += clean_line(lines[i]);
        out += "\r\n";
    }
    // "334 " with an empty challenge and no enhanced code keeps its space
    // (RFC 4954 4: the client expects "334 " followed by CRLF).
    return out;
}

std::string Reply::text() const {
    std::string out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i) out += ' ';
        out += lines[i];
    }
    return out;
}

Reply Reply::greeting(std::string_view hostname) {
    return Reply{220, "", {std::string(hostname) + " ESMTP relaypool"}};
}
Reply Reply::closing(std::string_view hostname) {
    return make(221, esc::ok, std::string(hostname) + " closing connection");
}
Reply Reply::timeout(std::string_view hostname) {
    return make(421, esc::timeout, std::string(hostname) + " Error: timeout exceeded");
}
Reply Reply::shutting_down(std::string_view hostname) {
    return make(421, esc::shutting_down, std::string(hostname) + " Service shutting down, try again later");
}
Reply Reply::too_many_connections() {
    return make(421, esc::security_temp, "Too many connections, try again later");
}
Reply Reply::too_many_errors() {
    return make(421, esc::security_temp, "Too many errors, closing connection");
}
Reply Reply::too_many_auth_failures() {
    return make(421, esc::security_temp, "Too many failed logins, try again later");
}
Reply Reply::not_smtp() {
    return make(421, esc::security_temp, "This is an SMTP server, closing connection");
}

Reply Reply::ok() {
    return make(250, esc::ok, "Ok");
}
Reply Reply::sender_ok() {
    return make(250, esc::sender_ok, "Sender ok");
}
Reply Reply::recipient_ok() {
    return make(250, esc::recipient_ok, "Recipient ok");
}
Reply Reply::start_mail_input() {
    return Reply{354, "", {"End data with <CR><LF>.<CR><LF>"}};
}
Reply Reply::queued(std::string_view id) {
    return make(250, esc::ok, "Ok: queued as " + std::string(id));
}
Reply Reply::chunk_received(std::uint64_t size) {
    return make(250, esc::ok, std::to_string(size) + " octets received");
}
Reply Reply::ready_for_tls() {
    return make(220, esc::ok, "Ready to start TLS");
}
Reply Reply::cannot_verify() {
    return make(252, esc::ok, "Cannot VRFY user, but will accept message and attempt delivery");
}
Reply Reply::help() {
    return make(214, esc::ok,
                "See https://www.rfc-editor.org/rfc/rfc5321 (commands: EHLO HELO MAIL RCPT DATA BDAT "
                "RSET NOOP QUIT VRFY HELP STARTTLS AUTH)");
}
Reply Reply::auth_ok() {
    return make(235, esc::auth_ok, "Authentication successful");
}
Reply Reply::auth_challenge(std::string_view base64) {
    return Reply{334, "", {std::string(base64)}};
}
Reply Reply::line_too_long() {
    return make(500, esc::syntax_error, "Line too long");
}
Reply Reply::unknown_command() {
    return make(500, esc::syntax_error, "Command unrecognized");
}
Reply Reply::syntax(std::string_view text) {
    return make(501, esc::syntax_error, text);
}
Reply Reply::syntax_params(std::string_view text) {
    return make(501, esc::invalid_params, text);
}
Reply Reply::bad_sequence(std::string_view text) {
    return make(503, esc::invalid_command, text);
}
Reply Reply::not_implemented(std::string_view text) {
    return make(502, esc::invalid_command, text);
}
Reply Reply::must_starttls() {
    return make(530, esc::security_perm, "Must issue a STARTTLS command first");
}
Reply Reply::auth_required() {
    return make(530, esc::security_perm, "Authentication required");
}
Reply Reply::auth_invalid() {
    return make(535, esc::bad_credentials, "Authentication credentials invalid");
}
Reply Reply::auth_cancelled() {
    return make(501, esc::other_perm, "Authentication cancelled");
}
Reply Reply::auth_bad_base64() {
    return make(501, esc::syntax_error, "Invalid base64 data");
}
Reply Reply::auth_mechanism_unsupported() {
    return make(504, esc::invalid_params, "Unrecognized authentication type");
}
Reply Reply::already_authenticated() {
    return make(503, esc::invalid_command, "Already authenticated");
}
Reply Reply::too_many_recipients() {
    return make(452, esc::too_many_recipients, "Too many recipients");
}
Reply Reply::message_too_big() {
    return make(552, esc::message_too_big, "Message size exceeds fixed limit");
}
Reply Reply::storage_failed() {
    return make(452, esc::system_storage_temp, "Insufficient system storage");
}
Reply Reply::local_error() {
    return make(451, esc::system_temp, "Local error in processing, try again later");
}
Reply Reply::utf8_required() {
    return make(553, esc::utf8_required, "SMTPUTF8 required for this address");
}

}  // namespace rp::protocol
