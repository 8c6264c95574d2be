// SMTP replies as values: {code, enhanced status (RFC 3463), text lines},
// named constructors for every reply the submission server sends, and the one
// multi-line formatter (RFC 5321 4.2.1).
//
// Invariants: code is 200..599; lines never contain CR or LF (the
// constructors and format() strip them, so untrusted text cannot inject a
// reply); an empty `enhanced` means "no enhanced status on this reply" (the
// greeting and the EHLO/HELO replies, RFC 2034 section 3).
// Pure values: used by protocol/ (server session) and by server/ (driver
// replies such as timeouts and shutdown). Handlers return replies; only the
// driver writes them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rp::protocol {

// The RFC 3463 enhanced status codes relaypool sends (class.subject.detail).
namespace esc {
inline constexpr std::string_view ok = "2.0.0";
inline constexpr std::string_view sender_ok = "2.1.0";
inline constexpr std::string_view recipient_ok = "2.1.5";
inline constexpr std::string_view auth_ok = "2.7.0";
inline constexpr std::string_view other_temp = "4.0.0";
inline constexpr std::string_view system_storage_temp = "4.3.1";  // spool write failed (disk full)
inline constexpr std::string_view system_temp = "4.3.0";          // spool/commit failure
inline constexpr std::string_view shutting_down = "4.3.2";
inline constexpr std::string_view timeout = "4.4.2";
inline constexpr std::string_view too_many_recipients = "4.5.3";
inline constexpr std::string_view security_temp = "4.7.0";  // too many errors, try later
inline constexpr std::string_view other_perm = "5.0.0";     // AUTH cancelled
inline constexpr std::string_view bad_sender_syntax = "5.1.7";
inline constexpr std::string_view bad_dest_syntax = "5.1.3";
inline constexpr std::string_view message_too_big = "5.3.4";
inline constexpr std::string_view invalid_command = "5.5.1";  // bad sequence
inline constexpr std::string_view syntax_error = "5.5.2";
inline constexpr std::string_view invalid_params = "5.5.4";
inline constexpr std::string_view too_many_recipients_perm = "5.5.3";
inline constexpr std::string_view utf8_required = "5.6.7";  // non-ASCII address without SMTPUTF8
inline constexpr std::string_view security_perm = "5.7.0";  // STARTTLS / AUTH required
inline constexpr std::string_view mechanism_unsupported = "5.7.4";
inline constexpr std::string_view bad_credentials = "5.7.8";
inline constexpr std::string_view encryption_required = "5.7.11";
}  // namespace esc

struct Reply {
    int code = 0;
    std::string enhanced;            // "5.5.2", or "" for none
    std::vector<std::string> lines;  // at least one line once formatted ("" allowed)

    // A reply with one line of text; CR/LF in the text become spaces.
    static Reply make(int code, std::string_view enhanced, std::string_view text);

    // "250-first\r\n250-...\r\n250 last\r\n"; the enhanced status (when set)
    // follows the code on every line.
    std::string format() const;
    std::string text() const;  // lines joined with ' ' (for logs and tests)
    bool positive() const { return code >= 200 && code < 400; }

    // --- connection level ---
    static Reply greeting(std::string_view hostname);       // 220 host ESMTP relaypool
    static Reply closing(std::string_view hostname);        // 221 2.0.0 host closing connection
    static Reply timeout(std::string_view hostname);        // 421 4.4.2 idle timeout
    static Reply shutting_down(std::string_view hostname);  // 421 4.3.2 service shutting down
    static Reply too_many_connections();                    // 421 4.7.0
    static Reply too_many_errors();                         // 421 4.7.0 Too many errors
    static Reply too_many_auth_failures();                  // 421 4.7.0 Too many failed logins
    static Reply not_smtp();                                // 421 4.7.0 not an SMTP client
    // --- command level ---
    static Reply ok();                                     // 250 2.0.0 Ok
    static Reply sender_ok();                              // 250 2.1.0 Sender ok
    static Reply recipient_ok();                           // 250 2.1.5 Recipient ok
    static Reply start_mail_input();                       // 354 End data with <CR><LF>.<CR><LF>
    static Reply queued(std::string_view id);              // 250 2.0.0 Ok: queued as <id>
    static Reply chunk_received(std::uint64_t size);       // 250 2.0.0 <n> octets received
    static Reply ready_for_tls();                          // 220 2.0.0 Ready to start TLS
    static Reply cannot_verify();                          // 252 2.0.0 (VRFY)
    static Reply help();                                   // 214 2.0.0
    static Reply auth_ok();                                // 235 2.7.0 Authentication successful
    static Reply auth_challenge(std::string_view base64);  // "334 <base64>" (no enhanced)
    static Reply line_too_long();                          // 500 5.5.2 Line too long
    static Reply unknown_command();                        // 500 5.5.2 Command unrecognized
    static Reply syntax(std::string_view text);            // 501 5.5.2 <text>
    static Reply syntax_params(std::string_view text);     // 501 5.5.4 <text>
    static Reply bad_sequence(std::string_view text);      // 503 5.5.1 <text>
    static Reply not_implemented(std::string_view text);   // 502 5.5.1 / 504 5.5.4 style
    static Reply must_starttls();                          // 530 5.7.0 Must issue a STARTTLS command first
    static Reply auth_required();                          // 530 5.7.0 Authentication required
    static Reply auth_invalid();                           // 535 5.7.8 Authentication credentials invalid
    static Reply auth_cancelled();                         // 501 5.0.0 Authentication cancelled
    static Reply auth_bad_base64();                        // 501 5.5.2 Invalid base64 data
    static Reply auth_mechanism_unsupported();             // 504 5.5.4 Unrecognized authentication type
    static Reply already_authenticated();                  // 503 5.5.1 Already authenticated
    static Reply too_many_recipients();                    // 452 4.5.3 Too many recipients
    static Reply message_too_big();                        // 552 5.3.4 Message size exceeds fixed limit
    static Reply storage_failed();                         // 452 4.3.1 Insufficient system storage
    static Reply local_error();                            // 451 4.3.0 Local error in processing
    static Reply utf8_required();                          // 553 5.6.7 SMTPUTF8 required for this address
};

}  // namespace rp::protocol
