// The upstream sessions of one transport, per account: idle authenticated
// sessions waiting for the next message of the same account, and the count
// of open ones. Used by relay/smtp_transport.cpp only.
//
// Invariants:
// - An idle session only ever carries mail for the account it authenticated
//   as (Gmail refuses a second AUTH: 503 5.7.0 No identity changes).
// - At most `per_account` sessions per account are open (idle, busy or
//   connecting); acquire() waits for a free one. The pool (pool/) already
//   limits concurrent sends per account to the same number, so the wait is a
//   backstop, not the scheduler.
// - An idle session lives `idle_keep`, carries at most `messages_per_session`
//   messages, and is closed politely (QUIT) unless it failed.
// - Single-threaded: the transport's executor only.
// Asio: include only from relay/ .cpp files.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "relay/upstream_connection.hpp"

namespace rp::relay {

struct SessionPoolLimits {
    std::uint32_t per_account = 2;
    std::uint32_t messages_per_session = 50;
    std::chrono::milliseconds idle_keep = std::chrono::seconds(5);
};

class SessionPool : public std::enable_shared_from_this<SessionPool> {
  public:
    // A session for one message: an idle one, or a slot to open a new one.
    struct Lease {
        std::shared_ptr<UpstreamConnection> conn;  // null: open a new session in the slot
        bool granted = false;                      // false: shutting down
    };

    SessionPool(boost::asio::any_io_executor executor, SessionPoolLimits limits)
        : executor_(std::move(executor)), limits_(limits), cut_closing_(executor_) {}

    boost::asio::awaitable<Lease> acquire(const std::string& account);
    // The slot's session after a message (or null when it never opened):
    // back to idle when `halt` is idle and it may carry more, else closed.
    void release(const std::string& account, const std::shared_ptr<UpstreamConnection>& c, Halt halt);
    // The slot's session after drive() stopped at Halt::message_done (the
    // result is already handed on): drives the RSET that ends the
    // transaction in the background, then release()s the slot. Meanwhile
    // acquire() for the account waits for it rather than open another.
    void finish_transaction(const std::string& account, std::shared_ptr<UpstreamConnection> c);
    // (drive_rset's and quit_and_close's ends; not for other callers)
    void transaction_finished(const std::string& account, const std::shared_ptr<UpstreamConnection>& c,
                              Halt halt, bool counted);
    void quit_finished(const std::shared_ptr<UpstreamConnection>& c);
    // Closes idle sessions (QUIT), refuses new leases, and cuts sessions
    // whose RSET after a message or QUIT is still unanswered a moment later
    // (the message's result is already written down).
    void shutdown();

    std::uint64_t open_sessions() const;
    std::uint64_t idle_sessions() const;

  private:
    struct Slots {
        std::deque<std::shared_ptr<UpstreamConnection>> idle;
        std::uint32_t open = 0;                          // idle + busy + connecting
        std::uint32_t finishing = 0;                     // busy with the RSET after a message, reusable
        std::deque<boost::asio::steady_timer*> waiters;  // acquire() calls waiting for a slot
    };
    static void notify_one(Slots& slots);
    void watch_idle(const std::shared_ptr<UpstreamConnection>& c);
    void expire_idle(const std::shared_ptr<UpstreamConnection>& c);
    void close_later(const std::shared_ptr<UpstreamConnection>& c, bool polite);
    void cut_closing_soon();
    void cancel_cut_when_done();

    boost::asio::any_io_executor executor_;
    SessionPoolLimits limits_;
    std::map<std::string, Slots> accounts_;
    // Sessions in their last exchange (drive_rset, quit_and_close), every account.
    std::set<std::shared_ptr<UpstreamConnection>> closing_;
    boost::asio::steady_timer cut_closing_;  // armed once stopping (cut_closing_soon)
    bool cut_armed_ = false;
    bool stopping_ = false;
};

}  // namespace rp::relay
