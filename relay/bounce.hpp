// Bounces: turning failed recipients of a queued message into one RFC 3464
// DSN, queued through the spool intake from the null sender like any other
// message (so it survives restarts and is delivered by the same engine).
//
// Invariants: never a DSN for a message from <> (never a bounce for a
// bounce); a recipient whose NOTIFY excludes FAILURE (or is NEVER) is left
// out; the DSN is durable before queue_bounce() reports success. RET=FULL
// returns the whole message only when it is at most 1 MiB; a larger one is
// returned as headers only (text/rfc822-headers) and the human-readable part
// says so, so a DSN stays small (in memory, and under the upstream's size
// limit: a refused DSN from <> would be lost).
// Used by relay/delivery.cpp only.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <system_error>
#include <vector>

#include "protocol/upstream_result.hpp"
#include "relay/delivery.hpp"

namespace rp::relay {

struct BouncedRecipient {
    std::size_t index = 0;            // into envelope.spec.recipients
    protocol::UpstreamOutcome reply;  // code 0 for expiry
    std::string status;               // RFC 3463 status when reply has none ("4.4.7" expiry)
};

// Queues one DSN for `bounced` (those that want one). Returns the DSN's
// spool id ("" when no DSN was due) or the error that kept it from being
// queued (then nothing was queued and the caller must not record the
// bounce yet).
boost::asio::awaitable<spool::SpoolResult<std::string>> queue_bounce(
    DeliveryContext& ctx, const spool::QueuedMessage& message, const std::vector<BouncedRecipient>& bounced,
    const std::string& reason);

}  // namespace rp::relay
