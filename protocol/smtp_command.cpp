// SMTP command-line parser (see smtp_command.hpp). One table row per verb:
// its name, its Verb and the function that parses its arguments.
#include "protocol/smtp_command.hpp"

#include <array>
#include <vector>

#include "protocol/ascii.hpp"

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

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in 64 bits
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

// xtext (RFC 3461 4): printable ASCII except "+" and "=", or "+" 2 HEX
// upper-case digits. UTF-8 is allowed too (RFC 6533 utf-8-xtext, loosely).
bool valid_xtext(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            auto hex = [](char h) { return (h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'); };
            if (i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
            i += 2;
        } else if (c >= 0x80) {
            std::size_t n = utf8_sequence_length(s.substr(i));
            if (n == 0) return false;
            i += n - 1;
        } else if (c < 33 || c > 126 || c == '=') {
            return false;
        }
    }
    return true;
}

Reply no_params() {
    return Reply::syntax_params("Syntax error, no parameters allowed");
}
Reply unsupported_param(std::string_view keyword) {
    return Reply::make(555, esc::invalid_params,
                       "Unsupported parameter " + ascii::upper(keyword.substr(0, 32)));
}
Reply duplicate_param() {
    return Reply::syntax_params("Duplicate parameter");
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

// Splits "keyword=value" and checks esmtp-keyword / esmtp-value syntax.
bool split_param(std::string_view word, std::string_view& key, std::string_view& value, bool& has_value) {
    const std::size_t eq = word.find('=');
    key = word.substr(0, eq);
    has_value = eq != std::string_view::npos;
    value = has_value ? word.substr(eq + 1) : std::string_view{};
    if (key.empty()) return false;
    for (char c : key)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    if (has_value && value.empty()) return false;
    for (char c : value)
        if (static_cast<unsigned char>(c) < 33 || c == '=' || c == 127) return false;
    return true;
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

std::optional<Reply> mail_param(std::string_view key, std::string_view value, bool has_value, MailParams& m) {
    auto bad = [&] { return Reply::syntax_params("Bad " + ascii::upper(key) + " parameter"); };
    const bool flag = iequals(key, "SMTPUTF8");
    const bool known = flag || iequals(key, "SIZE") || iequals(key, "BODY") || iequals(key, "RET") ||
                       iequals(key, "ENVID") || iequals(key, "AUTH");
    if (known && has_value == flag) return bad();  // SMTPUTF8 takes no value, the others need one
    if (iequals(key, "SIZE")) {
        if (m.size) return duplicate_param();
        auto v = parse_decimal(value);
        if (!v) return bad();
        m.size = *v;
    } else if (iequals(key, "BODY")) {
        if (m.body != BodyType::none) return duplicate_param();
        if (iequals(value, "7BIT")) {
            m.body = BodyType::seven_bit;
        } else if (iequals(value, "8BITMIME")) {
            m.body = BodyType::eight_bit_mime;
        } else {
            return Reply::make(555, esc::invalid_params, "Unsupported BODY type");
        }
    } else if (iequals(key, "SMTPUTF8")) {
        if (has_value) return bad();
        if (m.smtputf8) return duplicate_param();
        m.smtputf8 = true;
    } else if (iequals(key, "RET")) {
        if (!m.ret.empty()) return duplicate_param();
        if (!iequals(value, "FULL") && !iequals(value, "HDRS")) return bad();
        m.ret = ascii::upper(value);
    } else if (iequals(key, "ENVID")) {
        if (!m.envid.empty()) return duplicate_param();
        if (value.size() > 100 || !valid_xtext(value)) return bad();
        m.envid = std::string(value);
    } else if (iequals(key, "AUTH")) {
        if (!m.auth.empty()) return duplicate_param();
        if (value.size() > 500 || (value != "<>" && !valid_xtext(value))) return bad();
        m.auth = std::string(value);
    } else {
        return unsupported_param(key);
    }
    return std::nullopt;
}

std::optional<Reply> args_mail(std::string_view args, Command& cmd) {
    std::vector<std::string_view> params;
    if (auto err = parse_path_arg(args, "FROM:", true, cmd.mail.path, params)) return err;
    for (auto word : params) {
        std::string_view key, value;
        bool has_value = false;
        if (!split_param(word, key, value, has_value)) return Reply::syntax_params("Bad parameter syntax");
        if (auto err = mail_param(key, value, has_value, cmd.mail)) return err;
    }
    if (cmd.mail.path.utf8 && !cmd.mail.smtputf8) return Reply::utf8_required();
    return std::nullopt;
}

bool valid_notify(std::string_view value, std::string& out) {
    out = ascii::upper(value);
    if (out == "NEVER") return true;
    bool seen[3] = {false, false, false};
    std::string_view rest = out;
    while (true) {
        const std::size_t comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        int idx = item == "SUCCESS" ? 0 : item == "FAILURE" ? 1 : item == "DELAY" ? 2 : -1;
        if (idx < 0 || seen[idx]) return false;
        seen[idx] = true;
        if (comma == std::string_view::npos) return true;
        rest.remove_prefix(comma + 1);
    }
}

std::optional<Reply> args_rcpt(std::string_view args, Command& cmd) {
    std::vector<std::string_view> params;
    if (auto err = parse_path_arg(args, "TO:", false, cmd.rcpt.path, params)) return err;
    for (auto word : params) {
        std::string_view key, value;
        bool has_value = false;
        if (!split_param(word, key, value, has_value)) return Reply::syntax_params("Bad parameter syntax");
        if (iequals(key, "NOTIFY")) {
            if (!cmd.rcpt.notify.empty()) return duplicate_param();
            if (!has_value || !valid_notify(value, cmd.rcpt.notify)) {
                cmd.rcpt.notify.clear();
                return Reply::syntax_params("Bad NOTIFY parameter");
            }
        } else if (iequals(key, "ORCPT")) {
            if (!cmd.rcpt.orcpt.empty()) return duplicate_param();
            const std::size_t semi = value.find(';');
            if (!has_value || value.size() > 500 || semi == 0 || semi == std::string_view::npos ||
                semi + 1 == value.size() || !valid_xtext(value.substr(semi + 1)))
                return Reply::syntax_params("Bad ORCPT parameter");
            cmd.rcpt.orcpt = std::string(value);
        } else {
            return unsupported_param(key);
        }
    }
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
