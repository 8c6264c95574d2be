// MemorySpool: the in-memory twin of FileSpool for tests of the server and
// the scheduler. Same interfaces (SpoolIntake + Spool), same observable rules
// (a message exists only after done(ok); a failed state write keeps the old
// state; history is trimmed), no files: open_body() returns an empty path,
// read_body() works.
//
// Differences a test can rely on: callbacks run inline on the calling thread,
// unless hold_commits(true), in which case commits wait until
// release_commits() (to test "250 only after the commit"). Faults are
// injected with fail_commits()/fail_state_writes(). Thread-safe (one mutex);
// callbacks are never called with the mutex held.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "spool/spool.hpp"

namespace rp::spool {

class MemorySpool final : public SpoolIntake, public Spool {
  public:
    MemorySpool();
    ~MemorySpool() override;

    // SpoolIntake
    std::unique_ptr<SpoolWriter> begin(const EnvelopeSpec& envelope) override;

    // Spool
    SpoolResult<RecoveryReport> recover() override;
    std::vector<std::string> list() const override;
    SpoolResult<MessageSummary> summary(const std::string& id) const override;
    SpoolResult<QueuedMessage> load(const std::string& id) override;
    std::error_code update_state(const std::string& id, const DeliveryState& state) override;
    void update_state_async(const std::string& id, DeliveryState state,
                            std::function<void(std::error_code)> done) override;
    std::error_code remove(const std::string& id) override;
    std::error_code quarantine(const std::string& id, std::string_view reason) override;
    SpoolResult<BodyRef> open_body(const std::string& id) override;
    SpoolResult<std::string> read_body(const std::string& id, std::uint64_t max_bytes) override;
    void set_commit_listener(std::function<void(const MessageSummary&)> listener) override;
    SpoolStats stats() const override;

    // ---- test controls ----
    // Make begin() return nullptr (spool unavailable).
    void refuse_begin(bool refuse);
    // Make append() fail after `bytes` more bytes (disk full); SIZE_MAX = never.
    void fail_appends_after(std::uint64_t bytes);
    // The next n commits report `error` (the message does not exist).
    void fail_commits(std::size_t n, std::error_code error);
    // While set, update_state* returns `error` and the old state stays.
    void fail_state_writes(std::error_code error);
    // Queue commits instead of completing them inline.
    void hold_commits(bool hold);
    std::size_t held_commits() const;
    void release_commits();  // completes every held commit, in order
    // Messages quarantined so far (id, reason).
    std::vector<std::pair<std::string, std::string>> quarantined() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::spool
