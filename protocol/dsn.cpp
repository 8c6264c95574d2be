// RFC 3464 delivery status notifications (see dsn.hpp). The shape follows
// Postfix's bounce templates: a human-readable part, the machine-readable
// message/delivery-status, and the original headers (or the whole message
// with RET=FULL).
#include "protocol/dsn.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <initializer_list>

namespace rp::protocol {
namespace {

constexpr std::string_view crlf = "\r\n";

// Control characters (CR, LF, NUL ...) become spaces: reply texts and
// client-given values must not be able to break the header structure.
std::string clean(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
    }
    return out;
}

// Joins the parts with one allocation. Also keeps GCC 12 quiet: its
// -Wrestrict/-Wstringop-overflow false positives (GCC bug 105329) fire on
// `"literal" + std::string&&`, which inserts at the front of the temporary.
std::string cat(std::initializer_list<std::string_view> parts) {
    std::size_t n = 0;
    for (auto p : parts) n += p.size();
    std::string out;
    out.reserve(n);
    for (auto p : parts) out.append(p);
    return out;
}

// RFC 3461 4 xtext: "+XX" hex escapes.
std::string xtext_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return clean(out);
}

// "Name: value" folded at spaces so physical lines stay near 78 octets and
// never exceed 998 (RFC 5322 2.1.1).
std::string field(std::string_view name, std::string_view value) {
    std::string line = std::string(name) + ": ";
    std::string out;
    std::size_t line_len = line.size();
    out = line;
    std::size_t i = 0;
    while (i < value.size()) {
        std::size_t sp = value.find(' ', i + 1);
        std::size_t end = sp == std::string_view::npos ? value.size() : sp;
        std::string_view word = value.substr(i, end - i);  // starts with ' ' except the first
        if (line_len + word.size() > 78 && line_len > name.size() + 2 && word.front() == ' ') {
            out.append(crlf);  // the word's own leading space makes the continuation
            line_len = 0;
        }
        while (line_len + word.size() > 990) {  // a single overlong word: hard split
            std::size_t take = 990 - line_len;
            out.append(word.substr(0, take)).append(crlf).append(" ");
            word.remove_prefix(take);
            line_len = 1;
        }
        out.append(word);
        line_len += word.size();
        i = end;
    }
    out.append(crlf);
    return out;
}

// Plain text wrapped at spaces near 76 octets (hard split at 990) for the
// human-readable part; `text` has no line ends.
std::string wrap(std::string_view text) {
    std::string out;
    while (text.size() > 76) {
        std::size_t cut = text.rfind(' ', 76);
        if (cut == std::string_view::npos || cut == 0) cut = text.find(' ', 76);
        if (cut == std::string_view::npos || cut > 990) cut = std::min<std::size_t>(text.size(), 990);
        out.append(text.substr(0, cut)).append(crlf);
        text.remove_prefix(cut);
        if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    }
    out.append(text).append(crlf);
    return out;
}

std::string_view original_headers(std::string_view message) {
    for (std::size_t pos = 0; pos < message.size();) {
        std::size_t nl = message.find('\n', pos);
        if (nl == std::string_view::npos) return message;
        std::string_view line = message.substr(pos, nl - pos);
        if (line.empty() || line == "\r") return message.substr(0, pos);
        pos = nl + 1;
    }
    return message;
}

bool has_8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string status_of(const DsnRecipient& r) {
    if (!r.status.empty()) return clean(r.status);
    if (!r.reply.enhanced.empty()) return r.reply.enhanced;
    if (r.reply.code / 100 == 5) return "5.0.0";
    return r.action == DsnAction::failed ? "5.0.0" : "4.0.0";
}

std::string diagnostic(const DsnRecipient& r) {
    std::string d = std::to_string(r.reply.code);
    if (!r.reply.enhanced.empty()) d += " " + r.reply.enhanced;
    if (!r.reply.text.empty()) d.append(" ").append(clean(r.reply.text));
    return d;
}

std::string human_part(const DsnInput& in) {
    const bool any_failed = std::any_of(in.recipients.begin(), in.recipients.end(),
                                        [](const DsnRecipient& r) { return r.action == DsnAction::failed; });
    std::string t = cat({"This is the mail system at host ", clean(in.reporting_mta), ".\r\n\r\n"});
    if (any_failed) {
        t += "I'm sorry to have to inform you that your message could not\r\n"
             "be delivered to one or more recipients.\r\n";
    } else {
        t += "Your message could not be delivered yet to one or more recipients.\r\n"
             "The mail system will keep trying; you do not need to resend it.\r\n";
    }
    if (!in.reason.empty()) t.append("\r\n").append(wrap(cat({"Reason: ", clean(in.reason)})));
    t += "\r\n";
    for (const auto& r : in.recipients) {
        std::string line = cat({"<", clean(r.address), ">: "});
        if (r.reply.code != 0) {
            const std::string mta = r.remote_mta.empty() ? std::string("upstream") : clean(r.remote_mta);
            line += cat({"host ", mta, " said: ", diagnostic(r)});
        } else {
            line += r.reply.text.empty() ? std::string("delivery failed") : clean(r.reply.text);
        }
        t += wrap(line);
    }
    return t;
}

std::string recipient_block(const DsnRecipient& r, std::chrono::system_clock::time_point now) {
    std::string b;
    if (!r.orcpt.empty()) b += field("Original-Recipient", xtext_decode(r.orcpt));
    b += field("Final-Recipient", cat({"rfc822; ", clean(r.address)}));
    b += field("Action", r.action == DsnAction::failed ? "failed" : "delayed");
    b += field("Status", status_of(r));
    if (!r.remote_mta.empty()) b += field("Remote-MTA", cat({"dns; ", clean(r.remote_mta)}));
    if (r.reply.code != 0) b += field("Diagnostic-Code", cat({"smtp; ", diagnostic(r)}));
    b += field("Last-Attempt-Date", rfc5322_date(now));
    return b;
}

std::string status_part(const DsnInput& in) {
    std::string s = field("Reporting-MTA", cat({"dns; ", clean(in.reporting_mta)}));
    if (!in.envid.empty()) s += field("Original-Envelope-Id", xtext_decode(in.envid));
    s += field("Arrival-Date", rfc5322_date(in.arrival));
    for (const auto& r : in.recipients) s += std::string(crlf) + recipient_block(r, in.now);
    return s;
}

// RFC 2046 5.1.1: at most 70 characters from bchars; and it must not occur
// in any part (only the returned message can contain arbitrary text).
std::string unique_boundary(const DsnInput& in, std::string_view returned) {
    static constexpr std::string_view allowed = "'()+_,-./:=?";
    std::string base;
    for (char c : in.boundary) {
        if (base.size() >= 60) break;
        if (std::isalnum(static_cast<unsigned char>(c)) || allowed.find(c) != std::string_view::npos)
            base += c;
    }
    if (base.empty()) base = "relaypool-dsn";
    std::string b = base;
    for (unsigned n = 1; returned.find(b) != std::string_view::npos; ++n) b = base + "=_" + std::to_string(n);
    return b;
}

}  // namespace

std::string build_dsn(const DsnInput& in) {
    const std::string_view returned = in.return_full ? in.original : original_headers(in.original);
    const std::string boundary = unique_boundary(in, returned);
    const bool any_failed = std::any_of(in.recipients.begin(), in.recipients.end(),
                                        [](const DsnRecipient& r) { return r.action == DsnAction::failed; });
    std::string m;
    m += field("From", cat({"Mail Delivery System <MAILER-DAEMON@", clean(in.reporting_mta), ">"}));
    m += field("To", cat({"<", clean(in.envelope_sender), ">"}));
    m += field("Subject",
               any_failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
    m += field("Date", rfc5322_date(in.now));
    if (!in.message_id.empty()) m += field("Message-ID", clean(in.message_id));
    m += field("Auto-Submitted", "auto-replied");  // RFC 3834: no auto-replies to this
    m += field("MIME-Version", "1.0");
    m +=
        field("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"");
    m += crlf;
    m += "This is a MIME-encapsulated message.\r\n\r\n";

    m += "--" + boundary + "\r\n";
    m += field("Content-Description", "Notification");
    m += field("Content-Type", "text/plain; charset=utf-8");
    m += crlf;
    m += human_part(in);
    m += "\r\n--" + boundary + "\r\n";
    m += field("Content-Description", "Delivery report");
    m += field("Content-Type", "message/delivery-status");
    m += crlf;
    m += status_part(in);
    m += "\r\n--" + boundary + "\r\n";
    m += field("Content-Description", in.return_full ? "Undelivered Message" : "Undelivered Message Headers");
    m += field("Content-Type", in.return_full ? "message/rfc822" : "text/rfc822-headers");
    if (has_8bit(returned)) m += field("Content-Transfer-Encoding", "8bit");
    m += crlf;
    m.append(returned);
    if (!returned.empty() && returned.back() != '\n') m += crlf;
    m += "\r\n--" + boundary + "--\r\n";
    return m;
}

bool should_bounce(std::string_view envelope_sender, std::string_view notify, DsnAction action) {
    if (envelope_sender.empty()) return false;               // never a bounce for a bounce
    if (notify.empty()) return action == DsnAction::failed;  // RFC 3461 default: failures only here
    bool failure = false, delay = false, never = false;
    std::size_t i = 0;
    while (i <= notify.size()) {
        std::size_t comma = notify.find(',', i);
        if (comma == std::string_view::npos) comma = notify.size();
        std::string word;
        for (char c : notify.substr(i, comma - i))
            if (c != ' ') word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        failure = failure || word == "FAILURE";
        delay = delay || word == "DELAY";
        never = never || word == "NEVER";
        i = comma + 1;
    }
    if (never) return false;
    return action == DsnAction::failed ? failure : delay;
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
    using namespace std::chrono;
    static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto secs = floor<seconds>(when);
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const weekday wd{day};
    const hh_mm_ss<seconds> hms{secs - day};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %u %s %d %02d:%02d:%02d +0000", day_names[wd.c_encoding()],
                  static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                  static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
    return buf;
}

}  // namespace rp::protocol
