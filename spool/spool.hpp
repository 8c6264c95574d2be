// The queue side of the spool: what the scheduler (and the admin API) sees of
// the messages that intake (spool/spool_intake.hpp) made durable.
//
// Invariants:
// - A message exists from the moment its commit's done(ok, id) runs until
//   remove() or quarantine() returns success. Its envelope never changes;
//   only its DeliveryState does.
// - Every DeliveryState change is durable (file + directory fsync, atomic
//   replace) before update_state()/update_state_async() report success. When
//   a state write fails (disk full, I/O error) the previous durable state is
//   kept intact, the error is returned (and counted in stats()); nothing is
//   dropped. The caller logs it and retries later.
// - Bodies are never held in memory by the spool: recover() returns compact
//   summaries; load() reads one envelope + state; open_body() gives a path,
//   offset and size to stream from.
// - A message whose stored state was `active` at start-up was mid-delivery at
//   a crash: recover() reports it as `ready` with `interrupted = true`
//   (at-least-once: recipients already `delivered` stay delivered, `pending`
//   ones are tried again).
//
// Implementations: FileSpool (spool/file_spool.hpp, the on-disk format is in
// docs/spool.md) and MemorySpool (spool/memory_spool.hpp, the twin for tests).
// Both implement SpoolIntake too. Thread-safety: every method of Spool may be
// called from any thread (implementations lock internally); callbacks run on a
// spool thread (or inline in MemorySpool): post back to your own executor.
// Used by relay/ and app/ only (server/ sees the spool only via SpoolIntake).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/clock.hpp"
#include "spool/spool_intake.hpp"

namespace rp::spool {

// ---- errors ---------------------------------------------------------------
// OS failures are reported as std::system_category() codes (ENOSPC, EIO...);
// these are the spool's own.
enum class SpoolErrc {
    not_found = 1,     // no message with that id (never existed, removed, quarantined)
    corrupt,           // a file failed its integrity check (it is quarantined)
    closed,            // the spool is shutting down
    bad_state,         // a DeliveryState that does not fit the message (recipient count)
    injected_failure,  // tests only: a FaultInjector said "fail"
};
const std::error_category& spool_category();
std::error_code make_error_code(SpoolErrc e);

// A value or an error (C++20 has no std::expected).
template <class T>
struct SpoolResult {
    std::error_code error;
    T value{};
    explicit operator bool() const { return !error; }
};

// ---- per-message data -------------------------------------------------------
enum class MessageState { ready, active, deferred };
enum class RecipientStatus { pending, delivered, bounced };

std::string_view to_string(MessageState s);
std::string_view to_string(RecipientStatus s);

// Everything intake knew, plus when it arrived. Immutable once committed.
struct StoredEnvelope {
    EnvelopeSpec spec;
    WallTime arrival{};
};

struct RecipientState {
    RecipientStatus status = RecipientStatus::pending;
    std::uint32_t attempts = 0;
    std::string last_reply;  // last upstream reply for this recipient, e.g. "550 5.1.1 no such user"
    std::string account;     // account that delivered/bounced it ("" while pending)
};

struct AttemptRecord {
    WallTime at{};
    std::string account;  // "" when no account was usable
    std::string result;   // one line, e.g. "deferred: 421 4.7.0 try again later"
};

// The only mutable part of a message. `recipients` has exactly one entry per
// envelope recipient, in envelope order (index i <-> spec.recipients[i]).
struct DeliveryState {
    static constexpr std::size_t max_history = 20;  // older attempts are dropped when written

    MessageState state = MessageState::ready;
    std::uint32_t attempts = 0;
    WallTime next_attempt{};  // epoch (0) = due now
    std::string last_error;
    std::vector<RecipientState> recipients;
    std::vector<AttemptRecord> history;  // oldest first, at most max_history kept

    // A fresh state for a message with n recipients (what an absent state file means).
    static DeliveryState fresh(std::size_t n_recipients);
};

// Compact, body-free metadata: what the scheduler keeps for every queued
// message (100k of these must be cheap).
struct MessageSummary {
    std::string id;
    WallTime arrival{};
    MessageState state = MessageState::ready;
    bool interrupted = false;  // was `active` at start-up (see header comment)
    std::uint32_t attempts = 0;
    WallTime next_attempt{};
    std::uint64_t body_size = 0;
    std::uint32_t recipients_total = 0;
    std::uint32_t recipients_pending = 0;
};

// One message, fully loaded except for the body.
struct QueuedMessage {
    std::string id;
    StoredEnvelope envelope;
    DeliveryState state;
    std::uint64_t body_size = 0;
};

// Where the message bytes are: stream `size` bytes of `path` from `offset`
// (relay::DeliveryRequest::message_path / body_offset / body_size). The file
// may be removed after the message is: open it before remove().
struct BodyRef {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

struct RecoveryReport {
    std::vector<MessageSummary> messages;   // sorted by id (= arrival order)
    std::size_t quarantined = 0;            // invalid message files moved to quarantine/
    std::size_t tmp_removed = 0;            // uncommitted leftovers (never acknowledged)
    std::size_t orphan_states_removed = 0;  // state files without a message
    std::size_t interrupted = 0;            // messages that were `active`
    // Messages that could not be read (an OS error: EIO, EMFILE...): kept in
    // queue/, listed in `messages` (arrival from the id, recipients unknown
    // = 0) and validated when first loaded. Never quarantined for that.
    std::size_t unreadable = 0;
    std::chrono::milliseconds elapsed{0};
};

// Monotonic counters since open (for logs/metrics).
struct SpoolStats {
    std::uint64_t committed = 0;
    std::uint64_t commit_errors = 0;
    std::uint64_t commit_batches = 0;  // queue-directory fsyncs (each covers one or more commits/changes)
    std::uint64_t state_writes = 0;
    std::uint64_t state_write_errors = 0;
    std::uint64_t removed = 0;
    std::uint64_t quarantined = 0;
    std::uint64_t queued = 0;  // messages currently in the queue (gauge)
};

class Spool {
  public:
    virtual ~Spool() = default;

    // Scan the queue once at start, before intake and before any other call:
    // validates every message (header + size, never the body), quarantines
    // the invalid ones, removes tmp/ leftovers and orphan state files.
    // An error only when the directory itself is unusable.
    virtual SpoolResult<RecoveryReport> recover() = 0;

    // Ids currently queued, sorted (cheap: from the in-memory index).
    virtual std::vector<std::string> list() const = 0;
    virtual SpoolResult<MessageSummary> summary(const std::string& id) const = 0;

    // Envelope + delivery state from disk (not the body).
    virtual SpoolResult<QueuedMessage> load(const std::string& id) = 0;
    // The same off the caller's thread: `done` runs where the spool reads
    // (FileSpool: its delivery I/O thread, so a cold page cache never blocks
    // the event loop; this default: inline).
    virtual void load_async(const std::string& id, std::function<void(SpoolResult<QueuedMessage>)> done) {
        done(load(id));
    }

    // Persist a new delivery state atomically (blocks for the fsyncs: from an
    // event loop prefer update_state_async). history is trimmed to
    // max_history. Error: the old state is still the durable one.
    virtual std::error_code update_state(const std::string& id, const DeliveryState& state) = 0;
    // Same, on a spool commit worker (concurrent writes share the directory
    // fsync; writes for one message complete in call order); `done` runs on
    // that worker (inline in MemorySpool).
    virtual void update_state_async(const std::string& id, DeliveryState state,
                                    std::function<void(std::error_code)> done) = 0;

    // The message is finished (every recipient delivered or bounced, or an
    // operator deleted it): unlink message and state. Does not wait for the
    // directory fsync (it is queued, and shared with concurrent commits): a
    // crash within that window can bring the message back (delivered twice,
    // never lost). Cheap enough for the event loop.
    virtual std::error_code remove(const std::string& id) = 0;
    // The same off the caller's thread (FileSpool: its delivery I/O thread,
    // where `done` runs; this default: inline).
    virtual void remove_async(const std::string& id, std::function<void(std::error_code)> done) {
        done(remove(id));
    }
    // Keep the files, out of the queue, under quarantine/ (logged, counted).
    virtual std::error_code quarantine(const std::string& id, std::string_view reason) = 0;

    virtual SpoolResult<BodyRef> open_body(const std::string& id) = 0;
    // Up to max_bytes of the message (for a DSN's returned headers/content).
    virtual SpoolResult<std::string> read_body(const std::string& id, std::uint64_t max_bytes) = 0;

    // Called once per newly committed message, after it is durable and
    // before its intake done() runs, on a commit worker. Set it before
    // intake starts; it must not call back into intake synchronously.
    virtual void set_commit_listener(std::function<void(const MessageSummary&)> listener) = 0;

    virtual SpoolStats stats() const = 0;
};

}  // namespace rp::spool

template <>
struct std::is_error_code_enum<rp::spool::SpoolErrc> : std::true_type {};
