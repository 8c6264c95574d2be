// The one classifier of upstream outcomes (see upstream_result.hpp).
//
// Decision table, first matching row wins ("temporary when unsure"):
//
//  #  | when                                               | verdict            | deferral reason
//  ---+----------------------------------------------------+--------------------+----------------
//  1  | local dns/refused/timeout/reset/protocol (garbage, | upstream_failure   | connection
//     | a 2xx/3xx out of sequence, STARTTLS injection)     |                    |
//  2  | local tls_handshake/tls_verify                     | upstream_failure   | tls
//  3  | 2xx at RCPT or after the body                      | delivered          | -
//  3b | 2xx at any other stage (a reply out of sequence)   | defer_message      | temporary
//  4  | enhanced 5.4.5, or 5xx naming a daily sending /    | account_exhausted  | quota
//     | relay limit (Gmail 550-5.4.5), any stage incl RCPT |                    |
//  5  | text blames the sending IP ("your IP address",     | ip_cooldown        | rate_limited if
//     | "The IP you're using", "sending IP", "IP not in    |                    | it names rate,
//     | whitelist") with 421, or 4xx/5xx at greeting/MAIL/ |                    | else temporary
//     | RCPT/DATA/body (Gmail's "unusual rate of           |                    |
//     | unsolicited mail"): not the message's fault, so    |                    |
//     | mail waits (bounces only at queue.max_age)         |                    |
//  6  | 535 (5.7.8) or 534 (5.7.9, 5.7.14), any stage      | account_disabled   | auth
//  7  | pre-auth stages (greeting, ehlo, starttls), other  | upstream_failure   | temporary
//     | replies: no account is involved yet, so blame the  |                    |
//     | upstream (Gmail's "421 4.7.0 Try again later,      |                    |
//     | closing connection. (EHLO)")                       |                    |
//  8  | 421, 454 (post-auth), 530 (auth required at MAIL:  | account_cooldown   | rate_limited for
//     | the session lost its identity), any other          |                    | 454 4.7.0 and
//     | non-2xx at the AUTH stage (454 4.7.0 too many login|                    | 421 4.7.x naming
//     | attempts, 504 mechanism, 432 ...)                  |                    | rate/logins; else
//     |                                                    |                    | temporary
//  9  | 503 (bad sequence: our bug, not the message's)     | defer_message      | temporary
//  10 | RCPT 4xx (450 4.2.1, 452 4.2.2, 451 ...)           | defer_recipient    | temporary
//  11 | RCPT 5xx (550 5.1.1, 550 5.7.1 policy, 553 ...)    | bounce_recipient   | -
//  12 | 552 at MAIL/DATA/body (5.3.4 too large, 5.2.3)     | bounce_message     | -
//  13 | other 4xx anywhere                                 | defer_message      | temporary
//  14 | 5xx at MAIL, DATA, body (550 5.7.1 spam at body,   | bounce_message     | -
//     | 550 5.7.26 DMARC, 554 5.6.0 malformed, 501 5.1.7)  |                    |
//  15 | anything else (5xx at RSET/QUIT, 1xx/3xx as a      | defer_message      | temporary
//     | final reply, code 0 without a local failure)       |                    |
#include "protocol/upstream_result.hpp"

#include <cctype>
#include <string>
#include <vector>

namespace rp::protocol {
namespace {

// Lower-cased alphabetic words of a reply text ("login attempts," -> login, attempts).
std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::string word;
    for (char c : text) {
        auto uc = static_cast<unsigned char>(c);
        if (std::isalpha(uc)) {
            word.push_back(static_cast<char>(std::tolower(uc)));
        } else if (!word.empty()) {
            out.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty()) out.push_back(std::move(word));
    return out;
}

bool has_word(const std::vector<std::string>& ws, std::string_view w) {
    for (const auto& x : ws)
        if (x == w) return true;
    return false;
}

bool has_phrase(const std::vector<std::string>& ws, std::string_view a, std::string_view b) {
    for (std::size_t i = 0; i + 1 < ws.size(); ++i)
        if (ws[i] == a && ws[i + 1] == b) return true;
    return false;
}

bool names_rate_or_logins(std::string_view text) {
    auto ws = words(text);
    return has_word(ws, "rate") || has_word(ws, "login") || has_word(ws, "logins") ||
           has_word(ws, "ratelimit") || has_word(ws, "ratelimited") || has_phrase(ws, "too", "many");
}

bool blames_ip(std::string_view text) {
    auto ws = words(text);
    return has_phrase(ws, "your", "ip") || has_phrase(ws, "ip", "address") || has_phrase(ws, "ip", "not") ||
           has_phrase(ws, "ip", "you") || has_phrase(ws, "sending", "ip");
}

bool names_sending_limit(std::string_view text) {
    auto ws = words(text);
    return has_phrase(ws, "sending", "limit") || has_phrase(ws, "relay", "limit") ||
           has_phrase(ws, "sending", "quota") || (has_word(ws, "daily") && has_word(ws, "exceeded"));
}

bool is_pre_auth(Stage s) {
    return s == Stage::connect || s == Stage::greeting || s == Stage::ehlo || s == Stage::starttls ||
           s == Stage::tls;
}

bool ip_blaming_stage(const UpstreamOutcome& o) {
    if (o.code == 421) return true;
    return o.stage == Stage::greeting || o.stage == Stage::mail || o.stage == Stage::rcpt ||
           o.stage == Stage::body || o.stage == Stage::data;
}

// Every local failure blames the upstream (the reason tells them apart),
// except a refused XOAUTH2 token: that account cannot send.
Verdict classify_local(LocalFailure f) {
    return f == LocalFailure::credentials_refused ? Verdict::account_disabled : Verdict::upstream_failure;
}

bool is_account_refusal(const UpstreamOutcome& o) {
    if (o.code == 421 || o.code == 454 || o.code == 530) return true;
    return o.stage == Stage::auth && o.code >= 400;
}

}  // namespace

Verdict classify(const UpstreamOutcome& o) {
    const int cls = o.code / 100;
    if (o.local != LocalFailure::none) return classify_local(o.local);  // rows 1, 2
    if (cls == 2 && (o.stage == Stage::body || o.stage == Stage::rcpt)) return Verdict::delivered;  // row 3
    if (cls == 2) return Verdict::defer_message;                                                    // row 3b
    if (o.enhanced == "5.4.5" || (cls == 5 && names_sending_limit(o.text)))                         // row 4
        return Verdict::account_exhausted;
    if ((cls == 4 || cls == 5) && ip_blaming_stage(o) && blames_ip(o.text)) return Verdict::ip_cooldown;  // 5
    if (o.code == 535 || o.code == 534) return Verdict::account_disabled;      // row 6
    if (is_pre_auth(o.stage)) return Verdict::upstream_failure;                // row 7
    if (is_account_refusal(o)) return Verdict::account_cooldown;               // row 8
    if (o.code == 503) return Verdict::defer_message;                          // row 9
    if (o.stage == Stage::rcpt && cls == 4) return Verdict::defer_recipient;   // row 10
    if (o.stage == Stage::rcpt && cls == 5) return Verdict::bounce_recipient;  // row 11
    const bool message_stage = o.stage == Stage::mail || o.stage == Stage::data || o.stage == Stage::body;
    if (o.code == 552 && message_stage) return Verdict::bounce_message;  // row 12
    if (cls == 4) return Verdict::defer_message;                         // row 13
    if (cls == 5 && message_stage) return Verdict::bounce_message;       // row 14
    return Verdict::defer_message;                                       // row 15
}

std::string_view deferral_reason(const UpstreamOutcome& o, Verdict verdict) {
    switch (verdict) {
        case Verdict::delivered:
        case Verdict::bounce_recipient:
        case Verdict::bounce_message:
            return "";
        case Verdict::account_exhausted:
            return "quota";
        case Verdict::account_disabled:
            return "auth";
        case Verdict::upstream_failure:
            if (o.local == LocalFailure::tls_handshake || o.local == LocalFailure::tls_verify) return "tls";
            if (o.local != LocalFailure::none) return "connection";
            return "temporary";
        case Verdict::account_cooldown:
            if (o.code == 454 && o.enhanced == "4.7.0") return "rate_limited";
            if (o.enhanced.rfind("4.7.", 0) == 0 && names_rate_or_logins(o.text)) return "rate_limited";
            return "temporary";
        case Verdict::ip_cooldown:
            return names_rate_or_logins(o.text) ? "rate_limited" : "temporary";
        case Verdict::defer_recipient:
        case Verdict::defer_message:
            return "temporary";
    }
    return "temporary";
}

std::string_view to_string(Stage stage) {
    switch (stage) {
        case Stage::connect:
            return "connect";
        case Stage::greeting:
            return "greeting";
        case Stage::ehlo:
            return "ehlo";
        case Stage::starttls:
            return "starttls";
        case Stage::tls:
            return "tls";
        case Stage::auth:
            return "auth";
        case Stage::mail:
            return "mail";
        case Stage::rcpt:
            return "rcpt";
        case Stage::data:
            return "data";
        case Stage::body:
            return "body";
        case Stage::rset:
            return "rset";
        case Stage::quit:
            return "quit";
    }
    return "unknown";
}

std::string_view to_string(Verdict verdict) {
    switch (verdict) {
        case Verdict::delivered:
            return "delivered";
        case Verdict::defer_recipient:
            return "defer_recipient";
        case Verdict::bounce_recipient:
            return "bounce_recipient";
        case Verdict::bounce_message:
            return "bounce_message";
        case Verdict::defer_message:
            return "defer_message";
        case Verdict::account_cooldown:
            return "account_cooldown";
        case Verdict::account_disabled:
            return "account_disabled";
        case Verdict::account_exhausted:
            return "account_exhausted";
        case Verdict::ip_cooldown:
            return "ip_cooldown";
        case Verdict::upstream_failure:
            return "upstream_failure";
    }
    return "unknown";
}

}  // namespace rp::protocol
