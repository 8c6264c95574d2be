// The delivery engine as app/ sees it: one object that owns the spool, the
// transport (SMTP upstream or sandbox directory), the account pool (pool/ + its pool.state keeper) and
// the scheduler, and answers the admin API.
//
// Invariants:
// - Everything the intake accepted is delivered or bounced (DSN to its
//   sender); nothing is lost. start() recovers the spool first: every queued
//   message becomes ready again (at-least-once; docs/delivery.md).
// - Every method must be called on the io_context's thread (post to it from
//   elsewhere); the single-threaded engine needs no locks. intake() is the
//   exception: SpoolIntake may be used from any thread, as its header says.
// - No Asio/Beast/OpenSSL header is included here (io_context is
//   forward-declared), so app/ files that only wire things stay cheap.
// Used by app/ only (server/ sees just the SpoolIntake returned by intake()).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "spool/spool_intake.hpp"

namespace boost::asio {
class io_context;
}

namespace rp::relay {

// An admin answer: an HTTP-like status and a JSON body. On failure the body
// is {"error": "..."}; 404 = unknown id or account, 400 = bad argument,
// 409 = a delivery of that message is running (delete: try again),
// 500 = the spool refused, 503 = the engine is not running.
struct AdminResponse {
    int status = 200;
    std::string body;
};

class Relay {
  public:
    // Opens nothing yet: the spool is opened by start(). The config is
    // copied (the engine keeps its own).
    Relay(boost::asio::io_context& io, const config::Config& config, metrics::Metrics& metrics);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // The seam for server/: begin -> append -> commit. Valid from
    // construction to destruction; before start() it refuses (begin() ==
    // nullptr, the server answers 451) because the spool is not recovered.
    spool::SpoolIntake& intake();

    // Opens the queue directory (taking its lock), pool.state and the pool:
    // quick. Returns an error (and logs it) when either is unusable or held
    // by another relaypool; the process should then exit.
    std::error_code open();
    // After open(): recovers the spool on a thread of its own (seconds with
    // a big backlog) and then, on the io_context, starts the engine, opens
    // the intake and calls done({}), or done(error) when recovery failed.
    // Until then the intake refuses mail (451) and readiness says why.
    void recover(std::function<void(std::error_code)> done);
    // open() and a synchronous recovery (tests, tools).
    std::error_code start();

    // Stop scheduling; in-flight deliveries finish or are abandoned (their
    // messages stay queued in the last durable state: at-least-once), the
    // transport closes its sessions, then on_stopped runs on the io_context.
    // Idempotent; on_stopped may be empty.
    void stop(std::function<void()> on_stopped);

    // SIGHUP: the pool takes the new accounts (added ones start taking mail,
    // removed ones finish their running sends and keep their usage), limits,
    // credentials, strategy and warm-up; a disabled account is enabled
    // again. Queue and upstream settings apply after a restart. Logged.
    void reload(const config::Config& config);

    // "" when ready: the engine runs, the queue directory is writable and at
    // least one account is usable (or the upstream is a sandbox with no
    // accounts). Otherwise a one-line reason for /readyz's 503 body.
    std::string readiness_problem() const;

    // ---- admin API (JSON bodies; SPEC.md "queue" and "pool" commands) ------
    // Answers that read the disk call `respond` later, from the spool's
    // admin-read thread (never on the event loop); the others inline.
    using Respond = std::function<void(AdminResponse)>;

    // GET queue?limit=N&after=ID: one page of the queue, oldest first:
    //   {"messages":[{"id","age_seconds","state","attempts","sender",
    //   "recipients":[...],"last_error","next_attempt_in_seconds","size"}],
    //   "total":N, "next_after":"ID" (only when more messages follow)}.
    //   The page (which ids, how many are queued) comes from the in-memory
    //   index; the page's envelopes are read on the spool's background
    //   thread. limit: 1..kMaxPage (the caller checks).
    static constexpr std::size_t kDefaultPage = 100, kMaxPage = 1000;
    void queue_list(const std::string& after, std::size_t limit, Respond respond) const;
    // GET queue/ID: {"id","arrival","age_seconds","state","attempts",
    //   "next_attempt","last_error","envelope":{"mail_from","ret","envid",
    //   "listener","client_addr","auth_user","size"},
    //   "recipients":[{"address","status","attempts","last_reply","account"}],
    //   "history":[{"at","account","result"}]}   (times: RFC 3339 UTC)
    //   Loaded on the spool's admin-read thread.
    void queue_show(std::string_view id, Respond respond) const;
    // POST queue/ID/retry: make one deferred message due now ({"retried":1}).
    AdminResponse queue_retry(std::string_view id);
    // POST queue/retry: every deferred message due now ({"retried":N}).
    AdminResponse queue_retry_all();
    // DELETE queue/ID: drop the message (logged, counted as bounced reason
    // "deleted", no DSN): {"deleted":"ID"}.
    AdminResponse queue_delete(std::string_view id);
    // GET pool: {"accounts":[{"name","state","sent_24h","limit",
    //   "cooldown_until" (RFC 3339 or ""),"last_error"}]}
    AdminResponse pool_status() const;
    // POST pool/NAME/pause | resume: {"account":"NAME","state":"paused"|...}
    AdminResponse pool_pause(std::string_view account);
    AdminResponse pool_resume(std::string_view account);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::relay
