// SMTP path / mailbox parser (see address.hpp). A small recursive-descent
// scanner over the RFC 5321 grammar, extended by RFC 6531 (UTF-8 in atext,
// qtext and domain labels).
#include "protocol/address.hpp"

#include <cstdint>

namespace rp::protocol {

std::size_t utf8_sequence_length(std::string_view s) {
    if (s.empty()) return 0;
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (s.size() < len) return 0;
    std::uint32_t cp = c & (0x7F >> len);
    for (std::size_t i = 1; i < len; ++i) {
        if ((b(i) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

bool is_valid_utf8(std::string_view s) {
    while (!s.empty()) {
        std::size_t n = utf8_sequence_length(s);
        if (n == 0) return false;
        s.remove_prefix(n);
    }
    return true;
}

namespace {

bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_atext(char c) {
    if (is_alpha(c) || is_digit(c)) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '/':
        case '=':
        case '?':
        case '^':
        case '_':
        case '`':
        case '{':
        case '|':
        case '}':
        case '~':
            return true;
        default:
            return false;
    }
}

// A cursor over the input that records UTF-8 use and the first error.
struct Scanner {
    std::string_view s;
    std::size_t pos = 0;
    bool utf8 = false;
    AddressError error = AddressError::none;

    bool at_end() const { return pos >= s.size(); }
    char peek() const { return at_end() ? '\0' : s[pos]; }
    bool high() const { return !at_end() && static_cast<unsigned char>(s[pos]) >= 0x80; }
    bool accept(char c) {
        if (peek() != c || at_end()) return false;
        ++pos;
        return true;
    }
    // Consumes one non-ASCII UTF-8 character; false (and error) if malformed.
    bool take_utf8() {
        std::size_t n = utf8_sequence_length(s.substr(pos));
        if (n == 0) {
            error = AddressError::bad_utf8;
            return false;
        }
        pos += n;
        utf8 = true;
        return true;
    }
    bool fail() {
        if (error == AddressError::none) error = AddressError::syntax;
        return false;
    }
};

bool scan_atom(Scanner& sc) {
    const std::size_t start = sc.pos;
    while (!sc.at_end()) {
        if (sc.high()) {
            if (!sc.take_utf8()) return false;
        } else if (is_atext(sc.peek())) {
            ++sc.pos;
        } else {
            break;
        }
    }
    return sc.pos > start || sc.fail();
}

bool scan_dot_string(Scanner& sc) {
    if (!scan_atom(sc)) return false;
    while (sc.accept('.'))
        if (!scan_atom(sc)) return false;
    return true;
}

// Quoted-string = DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE
bool scan_quoted_string(Scanner& sc) {
    if (!sc.accept('"')) return sc.fail();
    while (!sc.at_end()) {
        const char c = sc.peek();
        if (c == '"') {
            ++sc.pos;
            return true;
        }
        if (sc.high()) {
            if (!sc.take_utf8()) return false;
        } else if (c == '\\') {
            ++sc.pos;
            if (sc.at_end() || sc.peek() < 32 || sc.peek() > 126) return sc.fail();
            ++sc.pos;
        } else if (c >= 32 && c <= 126) {
            ++sc.pos;
        } else {
            return sc.fail();
        }
    }
    return sc.fail();
}

// sub-domain = Let-dig [Ldh-str], or a U-label under SMTPUTF8.
bool scan_label(Scanner& sc) {
    const std::size_t start = sc.pos;
    char last = '\0';
    while (!sc.at_end()) {
        if (sc.high()) {
            if (!sc.take_utf8()) return false;
            last = 'a';
        } else if (is_alpha(sc.peek()) || is_digit(sc.peek()) || (sc.peek() == '-' && sc.pos > start)) {
            last = sc.s[sc.pos++];
        } else {
            break;
        }
    }
    if (sc.pos == start || last == '-' || sc.pos - start > 63) return sc.fail();
    return true;
}

bool scan_domain(Scanner& sc) {
    const std::size_t start = sc.pos;
    if (!scan_label(sc)) return false;
    while (sc.accept('.'))
        if (!scan_label(sc)) return false;
    return sc.pos - start <= 255 || sc.fail();
}

bool valid_ipv4(std::string_view t) {
    int parts = 0;
    while (true) {
        std::size_t n = 0;
        int value = 0;
        while (n < t.size() && is_digit(t[n]) && n < 3) value = value * 10 + (t[n++] - '0');
        if (n == 0 || value > 255 || (n > 1 && t[0] == '0')) return false;
        ++parts;
        t.remove_prefix(n);
        if (t.empty()) return parts == 4;
        if (t[0] != '.' || parts == 4) return false;
        t.remove_prefix(1);
    }
}

bool valid_ipv6(std::string_view t) {
    if (t.size() < 2 || t.size() > 45) return false;
    int colons = 0;
    for (char c : t) {
        if (c == ':') ++colons;
        if (!(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
            return false;
    }
    return colons >= 2 && colons <= 7;
}

// address-literal = "[" ( IPv4 / "IPv6:" IPv6 / Ldh-str ":" 1*dcontent ) "]"
bool scan_address_literal(Scanner& sc) {
    if (!sc.accept('[')) return sc.fail();
    const std::size_t start = sc.pos;
    while (!sc.at_end() && sc.peek() != ']') {
        const char c = sc.peek();
        if (c < 33 || c > 126 || c == '[' || c == '\\') return sc.fail();
        ++sc.pos;
    }
    if (!sc.accept(']')) return sc.fail();
    std::string_view body = sc.s.substr(start, sc.pos - 1 - start);
    if (valid_ipv4(body)) return true;
    if (body.size() > 5 && (body.substr(0, 5) == "IPv6:" || body.substr(0, 5) == "ipv6:"))
        return valid_ipv6(body.substr(5)) || sc.fail();
    const std::size_t colon = body.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == body.size()) return sc.fail();
    for (char c : body.substr(0, colon))
        if (!(is_alpha(c) || is_digit(c) || c == '-')) return sc.fail();
    return true;
}

bool scan_mailbox(Scanner& sc, PathResult& out) {
    const std::size_t local_start = sc.pos;
    if (sc.peek() == '"' ? !scan_quoted_string(sc) : !scan_dot_string(sc)) return false;
    out.local_part = std::string(sc.s.substr(local_start, sc.pos - local_start));
    if (!sc.accept('@')) return sc.fail();
    const std::size_t domain_start = sc.pos;
    if (sc.peek() == '[' ? !scan_address_literal(sc) : !scan_domain(sc)) return false;
    out.domain = std::string(sc.s.substr(domain_start, sc.pos - domain_start));
    out.address = out.local_part + "@" + out.domain;
    return true;
}

// A-d-l ":" — the obsolete source route, checked and dropped.
bool scan_source_route(Scanner& sc) {
    do {
        if (!sc.accept('@') || !scan_domain(sc)) return sc.fail();
    } while (sc.accept(','));
    return sc.accept(':') || sc.fail();
}

// `brackets`: octets the path would need for "<" ">" it lacks (an
// unbracketed mailbox must still fit when the relay writes it back).
PathResult finish(Scanner& sc, PathResult out, bool allow_utf8, std::size_t brackets = 0) {
    out.consumed = sc.pos;
    out.utf8 = sc.utf8;
    if (sc.error == AddressError::none && sc.pos + brackets > kMaxPathLength)
        sc.error = AddressError::too_long;
    if (sc.error == AddressError::none && sc.utf8 && !allow_utf8) sc.error = AddressError::non_ascii;
    out.error = sc.error;
    if (!out.ok()) {
        out.address.clear();
        out.local_part.clear();
        out.domain.clear();
        out.null_path = false;
    }
    return out;
}

}  // namespace

PathResult parse_path(std::string_view text, bool allow_null, bool allow_utf8) {
    Scanner sc{text};
    PathResult out;
    if (!sc.accept('<')) {
        // Unbracketed mailbox: must be followed by SP or the end.
        if (scan_mailbox(sc, out) && !sc.at_end() && sc.peek() != ' ') sc.fail();
        return finish(sc, std::move(out), allow_utf8, 2);
    }
    if (sc.accept('>')) {
        out.null_path = true;
        if (!allow_null) sc.fail();
        return finish(sc, std::move(out), allow_utf8);
    }
    if (sc.peek() == '@' && !scan_source_route(sc)) return finish(sc, std::move(out), allow_utf8);
    if (scan_mailbox(sc, out) && !sc.accept('>')) sc.fail();
    return finish(sc, std::move(out), allow_utf8);
}

PathResult parse_mailbox(std::string_view text, bool allow_utf8) {
    Scanner sc{text};
    PathResult out;
    if (scan_mailbox(sc, out) && !sc.at_end()) sc.fail();
    return finish(sc, std::move(out), allow_utf8, 2);
}

}  // namespace rp::protocol
