// What an upstream attempt produced, and the one pure classifier that maps it
// to what happens next (SPEC.md "Upstream replies are classified ...").
//
// Every reply of the upstream, at every stage, becomes an UpstreamOutcome;
// local failures (refused/timed-out connection, DNS, TLS) are outcomes too,
// with code 0. classify() is the only place that knows Gmail's reply codes
// and texts. "Temporary when unsure." Pure: no I/O, no clock.
#pragma once

#include <string>
#include <string_view>

namespace rp::protocol {

enum class Stage {
    connect,   // TCP connect / DNS (local failures)
    greeting,  // 220 banner
    ehlo,
    starttls,
    tls,  // TLS handshake / certificate verification (local failures)
    auth,
    mail,
    rcpt,
    data,  // the reply to DATA / BDAT start
    body,  // the reply after the message body (end of data / last BDAT)
    rset,
    quit,
};
std::string_view to_string(Stage stage);

// A local failure that has no SMTP reply. The credential ones come from
// getting the account's XOAUTH2 token: refused (the token endpoint said no,
// or the service account key is unusable: the account's fault) and
// unavailable (the endpoint is down: nobody's fault, try later).
enum class LocalFailure {
    none,
    dns,
    refused,
    timeout,
    reset,
    tls_handshake,
    tls_verify,
    protocol,
    credentials_refused,
    credentials_unavailable,
};

struct UpstreamOutcome {
    Stage stage = Stage::connect;
    int code = 0;          // SMTP reply code; 0 for local failures
    std::string enhanced;  // "5.4.5", or "" when absent
    std::string text;      // reply text (lines joined with ' '), or error text
    LocalFailure local = LocalFailure::none;
};

// What the engine does with an outcome.
enum class Verdict {
    delivered,          // 2xx at the body stage (or RCPT 2xx pending the body)
    defer_recipient,    // recipient-scoped 4xx (450 4.2.1 ...): that recipient retries later
    bounce_recipient,   // recipient-scoped 5xx (550 5.1.1 ...): DSN for that recipient
    bounce_message,     // 552 5.3.4 and other message-scoped 5xx: DSN for all remaining recipients
    defer_message,      // other 4xx: exponential backoff
    account_cooldown,   // 454 4.7.0 / 421 4.7.0 ...: cool the account, retry now via another account
    account_disabled,   // 535 5.7.8, 534 5.7.9, 534 5.7.14: disable until resumed
    account_exhausted,  // 550 5.4.5: exhausted until its rolling window frees; reroute, never bounce
    ip_cooldown,        // 421 blaming the sending IP: every account cools down
    upstream_failure,   // connection/DNS/TLS: back off, blame no account
};
std::string_view to_string(Verdict verdict);

// The relaypool_deferrals_total reason for an outcome that did not deliver
// or bounce ("rate_limited", "quota", "auth", "connection", "tls",
// "temporary"); "" for delivered/bounced verdicts.
std::string_view deferral_reason(const UpstreamOutcome& outcome, Verdict verdict);

Verdict classify(const UpstreamOutcome& outcome);

}  // namespace rp::protocol
