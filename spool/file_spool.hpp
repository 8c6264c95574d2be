// FileSpool: the durable, on-disk spool (format and rules: docs/spool.md).
//
// Layout under the queue directory (all 0700): tmp/ (messages being
// written, state files being replaced), queue/ (committed: <id> message
// files and <id>.state delivery states), quarantine/ (files that failed their
// integrity check: kept, logged, counted, never deleted).
//
// Invariants: a message is in queue/ only after its file was fsync'd; its
// intake done() runs only after the rename into queue/ and the fsync of
// queue/ itself. State files are replaced atomically (tmp + fsync + rename +
// directory fsync). Nothing is read back into memory but headers.
//
// Threads: begin()/SpoolWriter run on the caller's thread (the event loop;
// appends hit only the page cache). A few commit workers make files durable
// concurrently (the journal merges their fdatasyncs) and share directory
// fsyncs (group_commit.hpp). All Spool methods are thread-safe; callbacks
// (commit done, listener, update_state_async done) run on a commit worker:
// never call the blocking update_state() from inside one. The destructor
// drains pending commits, then stops the workers.
//
// Usage: auto r = FileSpool::open({.directory = dir}); r.value->recover();
// then hand it to the server (SpoolIntake) and the scheduler (Spool).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spool/spool.hpp"

namespace rp::metrics {
class Metrics;
}

namespace rp::spool {

// Test-only fault injection: consulted before each I/O step; a non-zero
// return is the errno that step fails with (e.g. ENOSPC, EIO).
enum class FaultPoint {
    create_message,  // open of tmp/<id> at begin()
    write_message,   // each write of message bytes (header or body)
    fsync_message,
    rename_message,
    fsync_dir,  // the directory fsync of a commit batch, a state write or a remove
    write_state,
    fsync_state,
    rename_state,
    read_message,    // open + read of queue/<id> (recover() and load())
    read_state,      // read of queue/<id>.state by load()
    remove_message,  // the unlink of queue/<id> by remove()
    list_dir,        // readdir of tmp/ or queue/ by recover(), as an error after the entries
};
class FaultInjector {
  public:
    virtual ~FaultInjector() = default;
    virtual int fail(FaultPoint point, std::string_view path) = 0;
};

struct FileSpoolOptions {
    std::string directory;                  // queue.directory
    unsigned commit_workers = 8;            // concurrent commits (fdatasync + rename + shared dir fsync)
    std::shared_ptr<FaultInjector> faults;  // tests only; nullptr in production
    // relaypool_spool_errors_total{kind=commit|state_write|quarantined};
    // optional (nullptr: only stats() counts). Must outlive the spool.
    metrics::Metrics* metrics = nullptr;
    // queue.min_free_space: below it storage_low() is true. 0 = never.
    std::uint64_t min_free_space = 0;
};

class FileSpool final : public SpoolIntake, public Spool {
  public:
    // Creates the directories (0700) if needed and checks that the queue is
    // writable (create + fsync + unlink a probe file). Starts the commit
    // thread. Call recover() next, before any intake.
    static SpoolResult<std::unique_ptr<FileSpool>> open(FileSpoolOptions options);
    ~FileSpool() override;
    FileSpool(const FileSpool&) = delete;
    FileSpool& operator=(const FileSpool&) = delete;

    // SpoolIntake
    std::unique_ptr<SpoolWriter> begin(const EnvelopeSpec& envelope) override;
    // statvfs of the queue directory, at most once a second (cached).
    bool storage_low() override;

    // Spool
    SpoolResult<RecoveryReport> recover() override;
    std::vector<std::string> list() const override;
    SpoolResult<MessageSummary> summary(const std::string& id) const override;
    SpoolResult<QueuedMessage> load(const std::string& id) override;
    // On the spool's delivery I/O thread (the admin API's reads have their own).
    void load_async(const std::string& id, std::function<void(SpoolResult<QueuedMessage>)> done) override;
    // remove() on the delivery I/O thread; `done` runs there.
    void remove_async(const std::string& id, std::function<void(std::error_code)> done) override;
    std::error_code update_state(const std::string& id, const DeliveryState& state) override;
    void update_state_async(const std::string& id, DeliveryState state,
                            std::function<void(std::error_code)> done) override;
    std::error_code remove(const std::string& id) override;
    std::error_code quarantine(const std::string& id, std::string_view reason) override;
    SpoolResult<BodyRef> open_body(const std::string& id) override;
    SpoolResult<std::string> read_body(const std::string& id, std::uint64_t max_bytes) override;
    void set_commit_listener(std::function<void(const MessageSummary&)> listener) override;
    SpoolStats stats() const override;

    // One page of the queue, oldest first, from the in-memory index (no
    // disk access; a short lock): the summaries of up to `limit` messages
    // whose ids sort after `after` ("" = from the start). Ids grow with
    // arrival, so `after` = the last id of the previous page is a stable
    // cursor while messages come and go.
    struct ListPage {
        std::vector<MessageSummary> messages;
        std::size_t total = 0;  // messages queued now
        bool more = false;      // messages after this page
    };
    ListPage list_page(const std::string& after, std::size_t limit) const;
    // Runs `job` on the spool's admin-read thread (slow reads for the admin
    // API: load() off the event loop). Every job runs, also at shutdown.
    void post_admin_read(std::function<void()> job);

    // /readyz: the queue directory is writable (probe file create + unlink).
    bool writable() const;
    const std::string& directory() const;

    struct Impl;  // file_spool.cpp (public so the writer and the commit callbacks can reach it)

  private:
    explicit FileSpool(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::spool
