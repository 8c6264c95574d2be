// FileSpool facing what is not a file it wrote: a FIFO, a directory or a
// symbolic link under a message's or a state file's name (a hostile or
// mistaken edit), and a directory listing that fails part way. Such an entry
// is quarantined, never waited on (a FIFO's open would block the thread for
// ever); a listing error fails recover() before it removes anything.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>

#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

namespace {

enum class Entry { fifo, directory, symlink };

const char* name_of(Entry kind) {
    switch (kind) {
        case Entry::fifo:
            return "fifo";
        case Entry::directory:
            return "directory";
        case Entry::symlink:
            return "symlink";
    }
    return "?";
}

// Replaces `path` (a file the spool wrote) with an entry of `kind`.
void replace_with(const std::string& path, Entry kind) {
    std::filesystem::remove(path);
    switch (kind) {
        case Entry::fifo:
            REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
            break;
        case Entry::directory:
            REQUIRE(::mkdir(path.c_str(), 0700) == 0);
            break;
        case Entry::symlink:
            REQUIRE(::symlink("/etc/hostname", path.c_str()) == 0);
            break;
    }
}

// Runs `work` on a thread; when it is still running after 10 s (blocked in
// the open of a FIFO), opens the FIFO's write end to set it free, so the
// test fails instead of hanging.
void finishes(const std::function<void()>& work, const std::string& fifo) {
    auto done = std::async(std::launch::async, work);
    if (done.wait_for(std::chrono::seconds(10)) == std::future_status::ready) {
        done.get();
        return;
    }
    FAIL_CHECK("blocked on " << fifo);
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    done.wait();
    if (w >= 0) ::close(w);
}

// readdir() of one directory ends in EIO after its entries.
class FailListing final : public FaultInjector {
  public:
    explicit FailListing(std::string suffix) : suffix_(std::move(suffix)) {}
    int fail(FaultPoint p, std::string_view path) override {
        return p == FaultPoint::list_dir && path.ends_with(suffix_) ? EIO : 0;
    }

  private:
    std::string suffix_;
};

std::string stored_message(const TempDir& t) {
    auto spool = open_recovered(t.path);
    REQUIRE(spool);
    const std::string id = put(*spool, "Subject: x\r\n\r\nbody\r\n", 1);
    REQUIRE_FALSE(id.empty());
    DeliveryState st = DeliveryState::fresh(1);
    st.state = MessageState::deferred;
    st.attempts = 2;
    REQUIRE_FALSE(spool->update_state(id, st));
    return id;
}

}  // namespace

TEST_CASE("recover: a message name that is not a regular file is quarantined, never waited on") {
    for (Entry kind : {Entry::fifo, Entry::directory, Entry::symlink}) {
        CAPTURE(name_of(kind));
        TempDir t;
        const std::string id = stored_message(t);
        replace_with(t / ("queue/" + id), kind);
        RecoveryReport rep;
        std::unique_ptr<FileSpool> spool;
        finishes([&] { spool = open_recovered(t.path, {}, &rep); }, t / ("queue/" + id));
        REQUIRE(spool);
        CHECK(rep.messages.empty());
        CHECK(rep.unreadable == 0);
        CHECK(rep.quarantined == 1);  // the entry; its state follows it
        CHECK(std::filesystem::exists(std::filesystem::symlink_status(t / ("quarantine/" + id))));
        CHECK(count_entries(t / "queue") == 0);
    }
}

TEST_CASE("recover: a state file that is not a regular file is quarantined; the message starts fresh") {
    for (Entry kind : {Entry::fifo, Entry::directory, Entry::symlink}) {
        CAPTURE(name_of(kind));
        TempDir t;
        const std::string id = stored_message(t);
        const std::string state = t / ("queue/" + id + ".state");
        replace_with(state, kind);
        RecoveryReport rep;
        std::unique_ptr<FileSpool> spool;
        finishes([&] { spool = open_recovered(t.path, {}, &rep); }, state);
        REQUIRE(spool);
        CHECK(rep.quarantined == 1);
        CHECK(rep.unreadable == 0);
        REQUIRE(rep.messages.size() == 1);
        CHECK(rep.messages[0].id == id);
        CHECK(rep.messages[0].attempts == 0);
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(state)));
        auto m = spool->load(id);
        REQUIRE(m);
        CHECK(m.value.state.attempts == 0);
    }
}

TEST_CASE("load: entries swapped in at run time are verdicts, not OS errors, and never block") {
    for (Entry kind : {Entry::fifo, Entry::directory, Entry::symlink}) {
        CAPTURE(name_of(kind));
        TempDir t;
        const std::string id = stored_message(t);
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        REQUIRE(spool->load(id).value.state.attempts == 2);

        const std::string state = t / ("queue/" + id + ".state");
        replace_with(state, kind);
        SpoolResult<QueuedMessage> m;
        finishes([&] { m = spool->load(id); }, state);
        REQUIRE(m);
        CHECK(m.value.state.attempts == 0);  // restarted fresh, the entry quarantined
        CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(state)));

        const std::string message = t / ("queue/" + id);
        replace_with(message, kind);
        finishes([&] { m = spool->load(id); }, message);
        CHECK(m.error == make_error_code(SpoolErrc::corrupt));  // the delivery quarantines it
    }
}

TEST_CASE("recover: a directory listing that fails part way fails recovery and removes nothing") {
    TempDir t;
    const std::string id = stored_message(t);
    // A state file whose message a partial listing could have missed.
    const std::string lone_state = t / "queue/0000000000000001.state";
    std::filesystem::copy_file(t / ("queue/" + id + ".state"), lone_state);
    spit(t / "tmp/0000000000000002", "half a message");

    for (std::string listing : {"/tmp/", "/queue/"}) {
        CAPTURE(listing);
        auto faults = std::make_shared<FailListing>(listing);
        auto r = FileSpool::open({.directory = t.path, .faults = faults});
        REQUIRE(r);
        auto rec = r.value->recover();
        CHECK(rec.error == std::error_code(EIO, std::system_category()));
        CHECK(std::filesystem::exists(lone_state));
        CHECK(std::filesystem::exists(t / ("queue/" + id)));
        CHECK(std::filesystem::exists(t / ("queue/" + id + ".state")));
        if (listing == "/tmp/") CHECK(std::filesystem::exists(t / "tmp/0000000000000002"));
    }
}
