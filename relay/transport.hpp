// The seam between the scheduler and whatever carries a message upstream:
// SmtpTransport (relay/smtp_transport.*, real TLS + AUTH with session reuse)
// and SandboxTransport (writes .eml files). Tests use scripted twins.
//
// Contract: deliver() performs one attempt for the given recipients through
// the given account and reports an outcome per recipient (and the session
// outcome when the attempt failed before any recipient was tried). It never
// throws for network/protocol failures: they are outcomes. The scheduler
// owns every consequence (classify, persist, retry, bounce, pool accounting).
// Only relay/ and app/ include this header (it pulls in Asio).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "protocol/upstream_result.hpp"

namespace rp::relay {

struct DeliveryRequest {
    std::string message_id;
    // The pool account to send through: its current settings, asked of the
    // pool by id when the send starts (a reload may have replaced them).
    config::Account account;
    std::string mail_from;                // envelope sender as it goes upstream (after sender_rewrite)
    std::string original_from;            // the client's envelope sender (for header rewrite)
    std::vector<std::string> recipients;  // only those still pending
    std::string message_path;             // spool file holding the message
    std::uint64_t body_offset = 0;        // where the message bytes start in that file
    std::uint64_t body_size = 0;          // message bytes (after the offset)
    bool body_8bitmime = false;
    bool smtputf8 = false;
};

struct RecipientResult {
    std::string address;
    protocol::UpstreamOutcome outcome;  // 2xx at body stage = delivered
};

struct DeliveryReport {
    // Set when the attempt failed before per-recipient results existed
    // (connect, TLS, EHLO, AUTH, MAIL, DATA, or the whole body refused);
    // then `recipients` may be empty or partial.
    std::optional<protocol::UpstreamOutcome> session_failure;
    std::vector<RecipientResult> recipients;
    // protocol::MessageResult::end_unanswered: the upstream may have taken
    // the message (the pool counts the send, though nothing is delivered).
    bool end_unanswered = false;
};

class Transport {
  public:
    virtual ~Transport() = default;
    virtual boost::asio::awaitable<DeliveryReport> deliver(DeliveryRequest request) = 0;
    // Close idle sessions (QUIT) and refuse new work; used at shutdown/reload.
    virtual void shutdown() = 0;
};

}  // namespace rp::relay
