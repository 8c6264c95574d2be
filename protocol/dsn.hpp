// Delivery status notifications (RFC 3464 / RFC 3461): the complete bounce
// message relaypool sends to the envelope sender, and the rule for when it
// may send one.
//
// Invariants: build_dsn() is pure (the date, boundary and message id are
// inputs), emits CRLF line ends only, lines of at most 998 octets (long
// diagnostic texts are folded), and a multipart/report whose boundary does
// not occur in any part. The DSN itself goes out from the null sender <>, so
// it can never cause another DSN (should_bounce("") is false).
// Used by relay/ (the scheduler, for permanent failures and queue.max_age).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/upstream_result.hpp"

namespace rp::protocol {

enum class DsnAction { failed, delayed };

struct DsnRecipient {
    std::string address;  // final recipient (rfc822 address, no angle brackets)
    std::string orcpt;    // ORCPT= as the client gave it ("rfc822;a@b", xtext), "" when absent
    DsnAction action = DsnAction::failed;
    // The reply that decided it. code 0 / no reply (expiry, local failure):
    // `status` below is used and no Diagnostic-Code/Remote-MTA is written.
    UpstreamOutcome reply;
    std::string status;      // RFC 3463 status to report; "" = from the reply (or 5.0.0 / 4.0.0)
    std::string remote_mta;  // "smtp.gmail.com", "" when none answered
};

struct DsnInput {
    std::string reporting_mta;    // config.hostname
    std::string envelope_sender;  // the original sender: the DSN's To
    std::string envid;            // ENVID= ("" when absent)
    bool return_full = false;     // RET=FULL: message/rfc822 with the whole message
    std::chrono::system_clock::time_point arrival;
    std::chrono::system_clock::time_point now;  // the DSN's Date
    std::string boundary;                       // unique text (e.g. message id + random)
    std::string message_id;                     // "<id@host>" for the Message-ID header
    std::vector<DsnRecipient> recipients;       // at least one
    std::string_view original;                  // the stored message bytes (headers are extracted)
    std::string reason;                         // human text, e.g. "the upstream refused it"
};

// The DSN message (headers + body), ready to be queued from <>.
std::string build_dsn(const DsnInput& input);

// May relaypool send a DSN for a recipient with this NOTIFY (as given, e.g.
// "FAILURE,DELAY", "NEVER", "" = absent = default FAILURE) to this envelope
// sender? Never to the null sender (never a bounce for a bounce).
bool should_bounce(std::string_view envelope_sender, std::string_view notify,
                   DsnAction action = DsnAction::failed);

// RFC 5322 date-time in UTC: "Wed, 25 Nov 2026 19:06:27 +0000".
std::string rfc5322_date(std::chrono::system_clock::time_point when);

}  // namespace rp::protocol
