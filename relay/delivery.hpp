// One delivery attempt for one queued message: load its envelope and state,
// pick an account, call the transport, classify every
// outcome with protocol::classify, persist the per-recipient results, queue
// DSNs for bounced recipients, and tell the scheduler what comes next.
//
// Invariants:
// - Every outcome is written (Spool::update_state_async) before it is acted
//   on: the results before the message is rescheduled or a DSN is counted.
//   The start of an attempt is not written (recovery treats the last
//   durable state as an interrupted attempt), and a message delivered to
//   every recipient with nothing to bounce is unlinked without a final
//   state write (docs/delivery.md). A failed state write keeps the new
//   state in memory (DeliveryContext::unsaved): the next attempt starts
//   from it, so an accepted recipient is never sent again by this process.
// - A DSN is committed to the spool before the recipients it reports are
//   persisted as bounced (a crash in between sends the DSN twice, never
//   zero times). Never a DSN to the null sender.
// - The message body is never loaded: the transport streams it from the
//   spool file. Only a DSN with RET=FULL reads the stored message.
// - 550 5.4.5, 454/421, 535/534 blame the account and reroute the message at
//   once; they never bounce. Connection/TLS failures blame no account. With
//   sender_rewrite set, a 5xx to MAIL FROM (other than 552) is about the
//   account's own address: the account is disabled, the message rerouted.
// - The reservation of the account is durable in pool.state before the
//   transport starts (PoolKeeper::durable); when it cannot be recorded the
//   reservation is released and the message backs off: nothing is sent
//   unrecorded.
// - A message held for want of a usable account is not rewritten when it is
//   already held for that reason (no state write per wake).
// Used by relay/engine.* (and its tests).
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "relay/pool_keeper.hpp"
#include "relay/scheduler.hpp"
#include "relay/transport.hpp"
#include "spool/spool.hpp"

namespace rp::metrics {
class Metrics;
}

namespace rp::relay {

struct DeliveryOptions {
    std::chrono::milliseconds max_age = std::chrono::hours(24 * 5);
    std::chrono::milliseconds retry_initial = std::chrono::minutes(1);
    std::chrono::milliseconds retry_max = std::chrono::hours(1);
    config::SenderRewrite sender_rewrite = config::SenderRewrite::envelope;
    std::string hostname = "localhost";  // reporting MTA in DSNs
    std::string remote_mta;              // upstream host named in DSNs
    std::uint64_t max_message_size = 35882577;
    // Uniform random number in [0, 1) for the backoff jitter (tests pin it).
    std::function<double()> jitter;
};

// Everything an attempt touches. All references outlive the engine.
struct DeliveryContext {
    spool::Spool& spool;
    spool::SpoolIntake& intake;  // where DSNs are queued
    Transport& transport;
    PoolKeeper& pool;  // the account pool and its pool.state
    metrics::Metrics& metrics;
    const Clock& clock;
    DeliveryOptions options;
    // States whose write failed (disk full, EMFILE), newer than the disk;
    // written again at the next attempt (see delivery.cpp, persist()).
    std::unordered_map<std::string, spool::DeliveryState> unsaved{};
};

// Runs one attempt on the engine's executor. Never throws for I/O, spool or
// upstream failures (they are dispositions); an exception is a bug.
boost::asio::awaitable<Disposition> attempt_delivery(DeliveryContext& ctx, std::string id);

// MAIL FROM as it goes upstream (sender_rewrite): the account address for
// `envelope` and `envelope+header`, the client's sender for `none`.
std::string upstream_mail_from(config::SenderRewrite rewrite, const std::string& original,
                               const config::Account& account);

}  // namespace rp::relay
