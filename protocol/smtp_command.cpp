// SMTP command-line parser (see smtp_command.hpp). One table row per verb:
// its name, its Verb and the function that parses its arguments.
#include "protocol/smtp_command.hpp"

#include <array>
#include <vector>

#include "protocol/ascii.hpp"
#include "protocol/esmtp_params.hpp"

namespace rp::protocol {
namespace {

using ascii::iequals;
using ascii::istarts_with;
using ArgParser = std::optional<Reply> (*)(std::string_view args, Command& cmd);

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split_words(std::string_view s) {
    std::vector<std::string_view> words;
    while (true) {
        s = trim_spaces(s);
        if (s.empty()) return words;
        std::size_t end = s.find(' ');
        words.push_back(s.substr(0, end));
        if (end == std::string_view::npos) return words;
        s.remove_prefix(end);
    }
}

Reply no_params() {
    return Reply::syntax_params("Syntax error, no parameters allowed");
}
std::optional<Reply> args_none(std::string_view args, Command&) {
    if (!trim_spaces(args).empty()) return no_params();
    return std::nullopt;
}

std::optional<Reply> args_any(std::string_view args, Command& cmd) {
    cmd.argument = std::string(trim_spaces(args));
    return std::nullopt;
}

// HELO/EHLO: one printable-ASCII word (a domain or an address literal). We
// do not insist on a resolvable or syntactically perfect name: many
// submission clients send "localhost" or a bare host name.
std::optional<Reply> args_hello(std::string_view args, Command& cmd) {
    auto words = split_words(args);
    if (words.size() != 1 || words[0].size() > 255)
        return Reply::syntax_params("Syntax: " + cmd.name + " hostname");
    for (char c : words[0]) {
        auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126) return Reply::syntax_params("Syntax: " + cmd.name + " hostname");
    }
    cmd.argument = std::string(words[0]);
    return std::nullopt;
}

std::optional<Reply> args_vrfy(std::string_view args, Command& cmd) {
    if (trim_spaces(args).empty()) return Reply::syntax_params("Syntax: VRFY address");
    cmd.argument = std::string(trim_spaces(args));
    return std::nullopt;
}

Reply path_error(const PathResult& path, bool sender) {
    const std::string_view code = sender ? esc::bad_sender_syntax : esc::bad_dest_syntax;
    switch (path.error) {
        case AddressError::non_ascii:
            return Reply::utf8_required();
        case AddressError::too_long:
            return Reply::make(501, code, "Path too long");
        case AddressError::bad_utf8:
            return Reply::make(501, code, "Invalid UTF-8 in address");
        default:
            return Reply::make(501, code,
                               sender ? "Bad sender address syntax" : "Bad recipient address syntax");
    }
}

// Parses "<keyword>:<path> [params]"; returns the parameter words.
std::optional<Reply> parse_path_arg(std::string_view args, std::string_view keyword, bool sender,
                                    PathResult& path, std::vector<std::string_view>& params) {
    args = trim_spaces(args);
    if (!istarts_with(args, keyword))
        return Reply::syntax_params(sender ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>");
    args.remove_prefix(keyword.size());
    while (!args.empty() && args.front() == ' ') args.remove_prefix(1);  // "FROM: <a>" is common
    path = parse_path(args, sender, true);
    if (!path.ok()) return path_error(path, sender);
    std::string_view rest = args.substr(path.consumed);
    if (!rest.empty() && rest.front() != ' ') return path_error(PathResult{}, sender);
    params = split_words(rest);
    return std::nullopt;
}

std::optional<Reply> args_mail(std::string_view args, Command& cmd) {
    std::vector<std::string_view> params;
    if (auto err = parse_path_arg(args, "FROM:", true, cmd.mail.path, params)) return err;
    if (auto err = parse_mail_params(params, cmd.mail)) return err;
    if (cmd.mail.path.utf8 && !cmd.mail.smtputf8) return Reply::utf8_required();
    return std::nullopt;
}

std::optional<Reply> args_rcpt(std::string_view args, Command& cmd) {
    std::vector<std::string_view> params;
    if (auto err = parse_path_arg(args, "TO:", false, cmd.rcpt.path, params)) return err;
    if (auto err = parse_rcpt_params(params, cmd.rcpt)) return err;
    return std::nullopt;
}

std::optional<Reply> args_bdat(std::string_view args, Command& cmd) {
    auto words = split_words(args);
    if (words.empty() || words.size() > 2) return Reply::syntax_params("Syntax: BDAT size [LAST]");
    auto size = parse_decimal(words[0]);
    if (!size) return Reply::syntax_params("Syntax: BDAT size [LAST]");
    if (words.size() == 2 && !iequals(words[1], "LAST"))
        return Reply::syntax_params("Syntax: BDAT size [LAST]");
    cmd.bdat.size = *size;
    cmd.bdat.last = words.size() == 2;
    return std::nullopt;
}

std::optional<Reply> args_auth(std::string_view args, Command& cmd) {
    auto words = split_words(args);
    if (words.empty() || words.size() > 2 || words[0].size() > 20)
        return Reply::syntax_params("Syntax: AUTH mechanism [initial-response]");
    cmd.auth.mechanism = ascii::upper(words[0]);
    if (words.size() == 2) cmd.auth.initial_response = std::string(words[1]);
    return std::nullopt;
}

struct VerbRow {
    std::string_view name;
    Verb verb;
    ArgParser parse;
};

constexpr std::array kVerbs{
    VerbRow{"HELO", Verb::helo, args_hello},
    VerbRow{"EHLO", Verb::ehlo, args_hello},
    VerbRow{"MAIL", Verb::mail, args_mail},
    VerbRow{"RCPT", Verb::rcpt, args_rcpt},
    VerbRow{"DATA", Verb::data, args_none},
    VerbRow{"BDAT", Verb::bdat, args_bdat},
    VerbRow{"RSET", Verb::rset, args_none},
    VerbRow{"NOOP", Verb::noop, args_any},
    VerbRow{"QUIT", Verb::quit, args_none},
    VerbRow{"VRFY", Verb::vrfy, args_vrfy},
    VerbRow{"HELP", Verb::help, args_any},
    VerbRow{"STARTTLS", Verb::starttls, args_none},
    VerbRow{"AUTH", Verb::auth, args_auth},
    VerbRow{"EXPN", Verb::not_implemented, args_any},
    VerbRow{"TURN", Verb::not_implemented, args_any},
    VerbRow{"ETRN", Verb::not_implemented, args_any},
    VerbRow{"SEND", Verb::not_implemented, args_any},
    VerbRow{"SOML", Verb::not_implemented, args_any},
    VerbRow{"SAML", Verb::not_implemented, args_any},
};

// Requests of other protocols that land on the SMTP port (HTTP probes,
// proxies): close at once rather than count errors (Postfix does the same).
constexpr std::array<std::string_view, 9> kForeignVerbs{"GET",     "POST",   "HEAD",  "PUT",  "CONNECT",
                                                        "OPTIONS", "DELETE", "PATCH", "TRACE"};

bool has_control_chars(std::string_view line) {
    for (char c : line) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7F) return true;
    }
    return false;
}

}  // namespace

std::string_view to_string(Verb verb) {
    switch (verb) {
        case Verb::helo:
            return "HELO";
        case Verb::ehlo:
            return "EHLO";
        case Verb::mail:
            return "MAIL";
        case Verb::rcpt:
            return "RCPT";
        case Verb::data:
            return "DATA";
        case Verb::bdat:
            return "BDAT";
        case Verb::rset:
            return "RSET";
        case Verb::noop:
            return "NOOP";
        case Verb::quit:
            return "QUIT";
        case Verb::vrfy:
            return "VRFY";
        case Verb::help:
            return "HELP";
        case Verb::starttls:
            return "STARTTLS";
        case Verb::auth:
            return "AUTH";
        case Verb::not_implemented:
            return "not-implemented";
        case Verb::non_smtp:
            return "non-smtp";
    }
    return "?";
}

std::string_view to_string(BodyType body) {
    switch (body) {
        case BodyType::none:
            return "";
        case BodyType::seven_bit:
            return "7BIT";
        case BodyType::eight_bit_mime:
            return "8BITMIME";
    }
    return "";
}

ParseResult parse_command(std::string_view line) {
    ParseResult result;
    const std::size_t sp = line.find(' ');
    const std::string_view word = line.substr(0, sp);
    const std::string_view args = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    for (auto foreign : kForeignVerbs) {
        if (word == foreign) {
            result.command.emplace();
            result.command->verb = Verb::non_smtp;
            result.command->name = std::string(word);
            return result;
        }
    }
    if (has_control_chars(line)) {
        result.error = Reply::syntax("Invalid character in command");
        return result;
    }
    for (const auto& row : kVerbs) {
        if (!iequals(word, row.name)) continue;
        Command cmd;
        cmd.verb = row.verb;
        cmd.name = std::string(row.name);
        if (auto err = row.parse(args, cmd)) {
            result.error = std::move(*err);
            return result;
        }
        result.command = std::move(cmd);
        return result;
    }
    result.error = Reply::unknown_command();
    return result;
}

}  // namespace rp::protocol
