// What one delivery attempt's replies mean: each sent recipient's outcome
// matched to the transport's report and classified (protocol::classify, plus
// what only the delivery knows: sender_rewrite), then tallied into what
// happens next (delivered, bounced, the account to blame, a deferral).
// Pure: no I/O, no Asio. Used by relay/delivery.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "pool/pool.hpp"
#include "protocol/upstream_result.hpp"
#include "relay/bounce.hpp"
#include "relay/transport.hpp"
#include "spool/spool.hpp"

namespace rp::relay {

using protocol::Verdict;

struct RecipientOutcome {
    std::size_t index = 0;
    protocol::UpstreamOutcome outcome;
    Verdict verdict = Verdict::defer_message;
};

struct Tally {
    std::vector<BouncedRecipient> bounced;
    std::size_t delivered = 0;
    std::optional<RecipientOutcome> blame;     // most severe account/IP verdict
    std::optional<RecipientOutcome> deferral;  // first other non-final outcome
};

// How strongly a verdict blames the account (or IP); 0 = not at all.
int blame_severity(Verdict v);
bool is_bounce(Verdict v);
// "550 5.1.1 no such user", or "connect: connection refused".
std::string describe(const protocol::UpstreamOutcome& o);

// The classifier's verdict for one outcome, with what only the delivery
// knows: when MAIL FROM carried the account's address (sender_rewrite, and
// a client sender that is not <>), a permanent refusal of it (not 552)
// blames the account, not the message.
Verdict verdict_for(const protocol::UpstreamOutcome& outcome, config::SenderRewrite rewrite,
                    const std::string& client_sender);

// One outcome per sent recipient: its own result when the transport gave
// one, else the session failure. A positive RCPT reply does not count when
// the session failed later (the body was never accepted).
std::vector<RecipientOutcome> match_results(const spool::QueuedMessage& m,
                                            const std::vector<std::size_t>& sent,
                                            const DeliveryReport& report, config::SenderRewrite rewrite);

// What a verdict means for the account that carried the attempt.
std::optional<pool::Blame> blame_of(Verdict v);

// Records each outcome in `state` (attempts, last reply, delivered) and
// sums up what happens next.
Tally tally(const std::vector<RecipientOutcome>& outcomes, spool::DeliveryState& state,
            const std::string& account);

// One line for the attempt history and the log.
std::string summarize(const Tally& t, std::size_t sent);

}  // namespace rp::relay
