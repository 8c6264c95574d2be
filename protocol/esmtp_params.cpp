// ESMTP parameters of MAIL FROM and RCPT TO (see esmtp_params.hpp).
#include "protocol/esmtp_params.hpp"

#include "protocol/ascii.hpp"

namespace rp::protocol {
namespace {

using ascii::iequals;

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

Reply unsupported_param(std::string_view keyword) {
    return Reply::make(555, esc::invalid_params,
                       "Unsupported parameter " + ascii::upper(keyword.substr(0, 32)));
}
Reply duplicate_param() {
    return Reply::syntax_params("Duplicate parameter");
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

std::optional<Reply> rcpt_param(std::string_view key, std::string_view value, bool has_value, RcptParams& r) {
    if (iequals(key, "NOTIFY")) {
        if (!r.notify.empty()) return duplicate_param();
        if (!has_value || !valid_notify(value, r.notify)) {
            r.notify.clear();
            return Reply::syntax_params("Bad NOTIFY parameter");
        }
    } else if (iequals(key, "ORCPT")) {
        if (!r.orcpt.empty()) return duplicate_param();
        const std::size_t semi = value.find(';');
        if (!has_value || value.size() > 500 || semi == 0 || semi == std::string_view::npos ||
            semi + 1 == value.size() || !valid_xtext(value.substr(semi + 1)))
            return Reply::syntax_params("Bad ORCPT parameter");
        r.orcpt = std::string(value);
    } else {
        return unsupported_param(key);
    }
    return std::nullopt;
}

// Runs one parameter parser over every "keyword[=value]" word.
template <typename Params, typename ParseOne>
std::optional<Reply> each_param(const std::vector<std::string_view>& words, Params& out, ParseOne parse_one) {
    for (auto word : words) {
        std::string_view key, value;
        bool has_value = false;
        if (!split_param(word, key, value, has_value)) return Reply::syntax_params("Bad parameter syntax");
        if (auto err = parse_one(key, value, has_value, out)) return err;
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 19) return std::nullopt;  // 19 digits always fit in 64 bits
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v;
}

std::optional<Reply> parse_mail_params(const std::vector<std::string_view>& words, MailParams& out) {
    return each_param(words, out, mail_param);
}

std::optional<Reply> parse_rcpt_params(const std::vector<std::string_view>& words, RcptParams& out) {
    return each_param(words, out, rcpt_param);
}

}  // namespace rp::protocol
