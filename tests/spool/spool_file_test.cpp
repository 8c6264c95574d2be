// FileSpool on real files (a temp dir under /tmp): commit then recover with
// exact bytes, group commit from many threads, abort, crash leftovers
// (tmp/, truncated, garbage, orphan state), atomic state updates under
// injected faults, and recovery of many messages without bodies or fds.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "metrics/metrics.hpp"
#include "spool/spool_format.hpp"
#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

namespace {

std::string binary_body(std::size_t n) {
    std::string b = "Received: from client\r\nSubject: t\r\n\r\n";
    for (std::size_t i = 0; b.size() < n; ++i) b.push_back(static_cast<char>((i * 131) & 0xff));
    b.resize(n);
    return b;
}

}  // namespace

TEST_CASE("open creates the directories 0700 and refuses intake before recovery") {
    TempDir t;
    auto r = FileSpool::open({.directory = t / "spool", .commit_workers = 8, .faults = {}});
    REQUIRE(r);
    for (const char* d : {"spool", "spool/tmp", "spool/queue", "spool/quarantine"}) {
        struct stat st {};
        REQUIRE(::stat((t / d).c_str(), &st) == 0);
        CHECK((st.st_mode & 0777) == 0700);
    }
    CHECK(r.value->writable());
    CHECK(r.value->begin(envelope()) == nullptr);
    REQUIRE(r.value->recover());
    CHECK(r.value->begin(envelope()) != nullptr);
}

TEST_CASE("commit, then a new spool recovers the message with its exact bytes") {
    TempDir t;
    const std::string body = binary_body(300 * 1024);  // larger than the write buffer
    EnvelopeSpec env = envelope(2);
    env.mail_from = "we ird\r\n%@example.com";
    env.envid = "E1";
    env.smtputf8 = true;
    std::string id;
    {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        std::vector<MessageSummary> heard;
        spool->set_commit_listener([&](const MessageSummary& s) { heard.push_back(s); });
        auto w = spool->begin(env);
        REQUIRE(w);
        for (std::size_t off = 0; off < body.size(); off += 1000) CHECK(w->append(body.substr(off, 1000)));
        CHECK(w->size() == body.size());
        auto r = commit_sync(*w);
        REQUIRE_FALSE(r.error);
        CHECK(format::valid_id(r.id));
        CHECK(r.thread != std::this_thread::get_id());  // done runs on a spool thread
        id = r.id;
        REQUIRE(heard.size() == 1);
        CHECK(heard[0].id == id);
        CHECK(heard[0].body_size == body.size());
        CHECK(spool->list() == std::vector<std::string>{id});
        CHECK(count_entries(t / "tmp") == 0);
    }
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(spool);
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.quarantined == 0);
    CHECK(rep.messages[0].id == id);
    CHECK(rep.messages[0].state == MessageState::ready);
    CHECK(rep.messages[0].recipients_total == 2);
    CHECK(rep.messages[0].recipients_pending == 2);
    auto m = spool->load(id);
    REQUIRE(m);
    CHECK(m.value.envelope.spec.mail_from == env.mail_from);
    CHECK(m.value.envelope.spec.envid == "E1");
    CHECK(m.value.envelope.spec.smtputf8);
    CHECK(m.value.envelope.spec.recipients.size() == 2);
    CHECK(m.value.state.recipients.size() == 2);
    auto ref = spool->open_body(id);
    REQUIRE(ref);
    CHECK(ref.value.size == body.size());
    CHECK(slurp(ref.value.path).substr(ref.value.offset) == body);
    auto rb = spool->read_body(id, 100);
    REQUIRE(rb);
    CHECK(rb.value == body.substr(0, 100));
}

TEST_CASE("ids are unique and increasing, also across a restart") {
    TempDir t;
    std::string last;
    for (int round = 0; round < 2; ++round) {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        for (int i = 0; i < 20; ++i) {
            auto id = put(*spool, "x");
            REQUIRE(!id.empty());
            CHECK(id > last);
            last = id;
        }
    }
}

TEST_CASE("concurrent commits from many threads are all durable, each done() once") {
    TempDir t;
    constexpr int threads = 8, per_thread = 40;
    std::set<std::string> ids;
    std::atomic<int> done_calls{0};
    {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        std::mutex mu;
        std::vector<std::thread> pool;
        for (int th = 0; th < threads; ++th) {
            pool.emplace_back([&, th] {
                std::vector<std::future<CommitResult>> pending;
                std::vector<std::unique_ptr<SpoolWriter>> writers;
                for (int i = 0; i < per_thread; ++i) {
                    auto w = spool->begin(envelope());
                    if (!w) continue;
                    w->append("thread " + std::to_string(th) + " message " + std::to_string(i) + "\r\n");
                    auto p = std::make_shared<std::promise<CommitResult>>();
                    pending.push_back(p->get_future());
                    w->commit([p, &done_calls](std::error_code ec, std::string id) {
                        ++done_calls;
                        p->set_value({ec, std::move(id), {}});
                    });
                    writers.push_back(std::move(w));  // writer may die before done: fine either way
                }
                for (auto& f : pending) {
                    auto r = f.get();
                    std::lock_guard lock(mu);
                    if (!r.error) ids.insert(r.id);
                }
            });
        }
        for (auto& th : pool) th.join();
        auto st = spool->stats();
        CHECK(st.committed == threads * per_thread);
        CHECK(st.commit_batches >= 1);
        CHECK(st.commit_batches <= st.committed);
        MESSAGE("commits: " << st.committed << " in " << st.commit_batches << " batches");
    }
    CHECK(done_calls == threads * per_thread);
    CHECK(ids.size() == threads * per_thread);
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(spool);
    CHECK(rep.messages.size() == ids.size());
    for (const auto& s : rep.messages) CHECK(ids.count(s.id) == 1);
}

TEST_CASE("abort, or dropping an uncommitted writer, removes the tmp file") {
    TempDir t;
    auto spool = open_recovered(t.path);
    REQUIRE(spool);
    {
        auto w = spool->begin(envelope());
        REQUIRE(w);
        w->append("partial");
        CHECK(count_entries(t / "tmp") == 1);
        w->abort();
        CHECK(count_entries(t / "tmp") == 0);
        CHECK_FALSE(w->append("more"));
    }
    {
        auto w = spool->begin(envelope());
        w->append("partial");
    }
    CHECK(count_entries(t / "tmp") == 0);
    CHECK(spool->list().empty());
}

TEST_CASE(
    "crash leftovers: tmp removed, bad files quarantined (kept), orphan state removed, the rest recovered") {
    TempDir t;
    std::string good, truncated, garbage_id = "00000000000000aa", orphan = "00000000000000bb";
    std::string tmp_copy, truncated_bytes;
    {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        good = put(*spool, "good message\r\n");
        truncated = put(*spool, binary_body(5000));
        REQUIRE(!good.empty());
        REQUIRE(!truncated.empty());
        // An intake in progress at the "crash": keep a copy of its tmp file.
        auto w = spool->begin(envelope());
        w->append("never acknowledged");
        for (auto& e : std::filesystem::directory_iterator(t / "tmp")) tmp_copy = e.path().filename();
        std::filesystem::copy_file(t / ("tmp/" + tmp_copy), t / "saved-tmp");
    }
    // Simulate what a kill -9 leaves behind.
    std::filesystem::copy_file(t / "saved-tmp", t / ("tmp/" + tmp_copy));
    truncated_bytes = slurp(t / ("queue/" + truncated));
    std::filesystem::resize_file(t / ("queue/" + truncated), truncated_bytes.size() - 10);
    spit(t / ("queue/" + garbage_id), "this is not a message\n");
    spit(t / ("queue/" + orphan + ".state"), "whatever");
    spit(t / "queue/README.txt", "stray file");

    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(spool);
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.messages[0].id == good);
    CHECK(rep.tmp_removed == 1);
    CHECK(rep.orphan_states_removed == 1);
    CHECK(rep.quarantined == 3);
    CHECK(spool->stats().quarantined == 3);
    CHECK(count_entries(t / "tmp") == 0);
    // Kept, not deleted: the truncated file is in quarantine/ byte for byte.
    CHECK(slurp(t / ("quarantine/" + truncated)) == truncated_bytes.substr(0, truncated_bytes.size() - 10));
    CHECK(slurp(t / ("quarantine/" + garbage_id)) == "this is not a message\n");
    CHECK(slurp(t / "quarantine/README.txt") == "stray file");
    CHECK_FALSE(std::filesystem::exists(t / ("queue/" + orphan + ".state")));
    CHECK(spool->load(truncated).error == make_error_code(SpoolErrc::not_found));
}

namespace {

DeliveryState deferred_state(std::size_t n, std::uint32_t attempts) {
    auto s = DeliveryState::fresh(n);
    s.state = MessageState::deferred;
    s.attempts = attempts;
    s.last_error = "421 4.7.0 later #" + std::to_string(attempts);
    s.next_attempt = format::from_unix_ms(1764097000000 + attempts);
    s.recipients[0].status = RecipientStatus::delivered;
    s.recipients[0].account = "acct@example.com";
    s.history.push_back({format::from_unix_ms(5), "acct@example.com", "deferred"});
    return s;
}

}  // namespace

TEST_CASE("state updates are durable, sync and async; wrong recipient counts refused") {
    TempDir t;
    std::string id;
    {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        id = put(*spool, "m", 2);
        REQUIRE(!id.empty());
        CHECK_FALSE(spool->update_state(id, deferred_state(2, 1)));
        auto s = spool->summary(id);
        REQUIRE(s);
        CHECK(s.value.state == MessageState::deferred);
        CHECK(s.value.recipients_pending == 1);
        CHECK_FALSE(update_async_sync(*spool, id, deferred_state(2, 2)));
        CHECK(spool->summary(id).value.attempts == 2);
        CHECK(spool->update_state(id, DeliveryState::fresh(3)) == make_error_code(SpoolErrc::bad_state));
        CHECK(update_async_sync(*spool, "0000000000000000", DeliveryState::fresh(1)) ==
              make_error_code(SpoolErrc::not_found));
        CHECK(spool->stats().state_write_errors == 0);
        CHECK(count_entries(t / "tmp") == 0);
    }
    auto spool = open_recovered(t.path);
    auto m = spool->load(id);
    REQUIRE(m);
    CHECK(m.value.state.attempts == 2);
    CHECK(m.value.state.last_error == "421 4.7.0 later #2");
    CHECK(m.value.state.recipients[0].status == RecipientStatus::delivered);
    CHECK(m.value.state.history.size() == 1);
}

TEST_CASE("a failed state write keeps the previous durable state") {
    const FaultPoint points[] = {FaultPoint::write_state, FaultPoint::fsync_state, FaultPoint::rename_state};
    for (FaultPoint p : points) {
        for (bool async : {false, true}) {
            CAPTURE(static_cast<int>(p));
            CAPTURE(async);
            TempDir t;
            auto faults = std::make_shared<ScriptedFaults>();
            std::string id;
            {
                auto spool = open_recovered(t.path, faults);
                id = put(*spool, "m", 2);
                REQUIRE_FALSE(spool->update_state(id, deferred_state(2, 1)));
                faults->arm(p, ENOSPC);
                auto ec = async ? update_async_sync(*spool, id, deferred_state(2, 2))
                                : spool->update_state(id, deferred_state(2, 2));
                CHECK(ec == std::error_code(ENOSPC, std::system_category()));
                CHECK(spool->stats().state_write_errors == 1);
                CHECK(spool->summary(id).value.attempts == 1);
                CHECK(count_entries(t / "tmp") == 0);
                auto m = spool->load(id);
                REQUIRE(m);
                CHECK(m.value.state.attempts == 1);
            }
            faults->clear();
            auto spool = open_recovered(t.path, faults);
            auto m = spool->load(id);
            REQUIRE(m);
            CHECK(m.value.state.attempts == 1);
            CHECK(m.value.state.last_error == "421 4.7.0 later #1");
        }
    }
}

TEST_CASE("a failed commit step reports an error and leaves no message") {
    const FaultPoint points[] = {FaultPoint::write_message, FaultPoint::fsync_message,
                                 FaultPoint::rename_message, FaultPoint::fsync_dir};
    for (FaultPoint p : points) {
        CAPTURE(static_cast<int>(p));
        TempDir t;
        auto faults = std::make_shared<ScriptedFaults>();
        {
            auto spool = open_recovered(t.path, faults);
            auto keep = put(*spool, "kept");
            REQUIRE(!keep.empty());
            auto w = spool->begin(envelope());
            REQUIRE(w);
            faults->arm(p, EIO, 1);
            bool appended = w->append(binary_body(100 * 1024));
            CHECK(appended == (p != FaultPoint::write_message));
            auto r = commit_sync(*w);
            CHECK(r.error == std::error_code(EIO, std::system_category()));
            CHECK(r.id.empty());
            CHECK(spool->list() == std::vector<std::string>{keep});
            CHECK(spool->stats().commit_errors == 1);
            CHECK(count_entries(t / "tmp") == 0);
            CHECK(count_entries(t / "queue") == 1);
        }
        faults->clear();
        RecoveryReport rep;
        auto spool = open_recovered(t.path, faults, &rep);
        CHECK(rep.messages.size() == 1);
        CHECK(rep.quarantined == 0);
    }
}

TEST_CASE("begin fails cleanly when the message file cannot be created") {
    TempDir t;
    auto faults = std::make_shared<ScriptedFaults>();
    auto spool = open_recovered(t.path, faults);
    faults->arm(FaultPoint::create_message, ENOSPC, 1);
    CHECK(spool->begin(envelope()) == nullptr);
    CHECK(count_entries(t / "tmp") == 0);
    CHECK(spool->begin(envelope()) != nullptr);
}

TEST_CASE("a message active at a crash comes back ready and interrupted") {
    TempDir t;
    std::string id;
    {
        auto spool = open_recovered(t.path);
        id = put(*spool, "m", 1);
        auto st = DeliveryState::fresh(1);
        st.state = MessageState::active;
        REQUIRE_FALSE(spool->update_state(id, st));
    }
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.interrupted == 1);
    CHECK(rep.messages[0].interrupted);
    CHECK(rep.messages[0].state == MessageState::ready);
    CHECK(spool->load(id).value.state.state == MessageState::ready);
}

TEST_CASE("an invalid state file is quarantined; the message restarts fresh") {
    TempDir t;
    std::string id;
    {
        auto spool = open_recovered(t.path);
        id = put(*spool, "m", 2);
        REQUIRE_FALSE(spool->update_state(id, deferred_state(2, 3)));
    }
    spit(t / ("queue/" + id + ".state"), "RELAYPOOL-STATE 1\ngarbage\n");
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(rep.messages.size() == 1);
    CHECK(rep.quarantined == 1);
    CHECK(rep.messages[0].attempts == 0);
    CHECK(rep.messages[0].recipients_pending == 2);
    CHECK(std::filesystem::exists(t / ("quarantine/" + id + ".state")));
}

TEST_CASE("remove and quarantine take a message out of the queue") {
    TempDir t;
    auto spool = open_recovered(t.path);
    auto a = put(*spool, "a"), b = put(*spool, "b");
    REQUIRE_FALSE(spool->update_state(a, deferred_state(1, 1)));
    CHECK_FALSE(spool->remove(a));
    CHECK(spool->remove(a) == make_error_code(SpoolErrc::not_found));
    CHECK_FALSE(std::filesystem::exists(t / ("queue/" + a)));
    CHECK_FALSE(std::filesystem::exists(t / ("queue/" + a + ".state")));
    CHECK_FALSE(spool->quarantine(b, "operator asked"));
    CHECK(std::filesystem::exists(t / ("quarantine/" + b)));
    CHECK(spool->list().empty());
    auto st = spool->stats();
    CHECK(st.removed == 1);
    CHECK(st.quarantined == 1);
    CHECK(st.queued == 0);
}

TEST_CASE("list_page: the index oldest first, a stable cursor, the total; no disk access") {
    TempDir t;
    auto spool = open_recovered(t.path);
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(put(*spool, "m" + std::to_string(i)));
    auto p1 = spool->list_page("", 2);
    REQUIRE(p1.messages.size() == 2);
    CHECK(p1.messages[0].id == ids[0]);
    CHECK(p1.messages[1].id == ids[1]);
    CHECK(p1.total == 5);
    CHECK(p1.more);
    // A message of the next page leaves, one arrives: the cursor still holds.
    CHECK_FALSE(spool->remove(ids[2]));
    ids.push_back(put(*spool, "late"));
    auto p2 = spool->list_page(p1.messages.back().id, 2);
    REQUIRE(p2.messages.size() == 2);
    CHECK(p2.messages[0].id == ids[3]);
    CHECK(p2.messages[1].id == ids[4]);
    CHECK(p2.more);
    auto p3 = spool->list_page(p2.messages.back().id, 2);
    REQUIRE(p3.messages.size() == 1);
    CHECK(p3.messages[0].id == ids[5]);
    CHECK_FALSE(p3.more);
    CHECK(p3.total == 5);
    CHECK(p3.messages[0].recipients_pending == 1);
    // The index answers even with the files gone (no read behind it).
    std::filesystem::remove(t / ("queue/" + ids[0]));
    CHECK(spool->list_page("", 100).messages.size() == 5);
    CHECK(spool->list_page(ids[5], 100).messages.empty());
}

TEST_CASE("post_admin_read runs jobs in order off the caller's thread; destruction runs the rest") {
    TempDir t;
    std::vector<int> ran;
    std::mutex mu;
    std::atomic<bool> other_thread{true};
    const auto caller = std::this_thread::get_id();
    {
        auto spool = open_recovered(t.path);
        for (int i = 0; i < 50; ++i)
            spool->post_admin_read([&, i] {
                if (std::this_thread::get_id() == caller) other_thread = false;
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                std::lock_guard l(mu);
                ran.push_back(i);
            });
    }  // destroyed with jobs still queued
    REQUIRE(ran.size() == 50);
    for (int i = 0; i < 50; ++i) CHECK(ran[static_cast<std::size_t>(i)] == i);
    CHECK(other_thread);
}

TEST_CASE("a slow admin read does not hold up a delivery's load or unlink") {
    TempDir t;
    // Declared before the spool: if a check below fails, the spool (and its
    // queued callbacks) goes first, while these still exist.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> admin_done;
    std::promise<bool> loaded;
    std::promise<std::error_code> removed;
    auto load_result = loaded.get_future();
    auto remove_result = removed.get_future();
    auto spool = open_recovered(t.path);
    const std::string id = put(*spool, "m");
    // An admin job that stands for a listing page read from a cold disk: it
    // blocks until the delivery's work is done, so if both shared a thread
    // the load below could never finish (the wait would time out).
    spool->post_admin_read([released, &admin_done] {
        released.wait();
        admin_done.set_value();
    });
    spool->load_async(id, [&](SpoolResult<QueuedMessage> r) { loaded.set_value(bool(r)); });
    const bool load_finished = load_result.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    if (load_finished) spool->remove_async(id, [&](std::error_code ec) { removed.set_value(ec); });
    const bool remove_finished =
        load_finished && remove_result.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    release.set_value();  // also on failure: the admin job must end before the spool does
    admin_done.get_future().wait();
    REQUIRE(load_finished);
    CHECK(load_result.get());
    REQUIRE(remove_finished);
    CHECK_FALSE(remove_result.get());
    CHECK(spool->list().empty());
}

TEST_CASE("quarantine returns before its directory fsyncs; the files are moved at once") {
    TempDir t;
    std::string id;
    {
        auto spool = open_recovered(t.path);
        id = put(*spool, "q");
        REQUIRE_FALSE(spool->update_state(id, deferred_state(1, 1)));
        CHECK_FALSE(spool->quarantine(id, "test"));
        CHECK(std::filesystem::exists(t / ("quarantine/" + id)));
        CHECK(std::filesystem::exists(t / ("quarantine/" + id + ".state")));
        CHECK_FALSE(std::filesystem::exists(t / ("queue/" + id)));
    }
    auto again = open_recovered(t.path);
    CHECK(again->list().empty());
}

TEST_CASE("UniqueFd: closes exactly once; release hands the descriptor on; moves transfer it") {
    int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(raw >= 0);
    {
        rp::UniqueFd a(raw);
        rp::UniqueFd b(std::move(a));
        CHECK_FALSE(a);
        CHECK(b.get() == raw);
        rp::UniqueFd c;
        c = std::move(b);
        CHECK(c.get() == raw);
        CHECK(::fcntl(raw, F_GETFD) >= 0);
    }
    CHECK(::fcntl(raw, F_GETFD) == -1);  // closed by c
    int other = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    rp::UniqueFd d(other);
    const int handed = d.release();
    CHECK_FALSE(d);
    d.reset();
    CHECK(::fcntl(handed, F_GETFD) >= 0);  // not closed by d
    ::close(handed);
}

TEST_CASE("5,000 messages recover as summaries: no bodies, no open files") {
    TempDir t;
    constexpr int n = 5000;
    const std::string body = binary_body(2048);
    {
        // Lay the files out directly (what commits leave, minus the fsyncs, which
        // other tests cover): keeps this test about recovery, and fast.
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
    }
    for (int i = 0; i < n; ++i) {
        const std::string id = format::id_from_number(0x1000 + static_cast<std::uint64_t>(i));
        StoredEnvelope env{envelope(1 + (i % 100) % 3), format::from_unix_ms(1764097000000 + i)};
        auto h = format::encode_message_header(id, env);
        h.bytes.replace(h.length_offset, format::body_length_digits, format::encode_body_length(body.size()));
        spit(t / ("queue/" + id), h.bytes + body);
    }
    const std::size_t fds_before = open_fds();
    auto opened = FileSpool::open({.directory = t.path, .commit_workers = 8, .faults = {}});
    REQUIRE(opened);
    auto rec = opened.value->recover();
    REQUIRE(rec);
    CHECK(rec.value.messages.size() == n);
    CHECK(rec.value.quarantined == 0);
    std::uint64_t pending = 0;
    for (const auto& s : rec.value.messages) {
        CHECK(s.body_size == body.size());
        pending += s.recipients_pending;
    }
    std::uint64_t expected_pending = 0;
    for (int i = 0; i < n; ++i) expected_pending += 1 + (i % 100) % 3;
    CHECK(pending == expected_pending);
    // Only the directory fds and the commit machinery: nothing per message.
    CHECK(open_fds() <= fds_before + 4);
    MESSAGE("recovered " << n << " messages in " << rec.value.elapsed.count() << " ms");
}

TEST_CASE("destroying the spool drains pending commits: every done() runs, every message is durable") {
    TempDir t;
    std::atomic<int> ok{0}, failed{0};
    {
        auto spool = open_recovered(t.path);
        REQUIRE(spool);
        for (int i = 0; i < 30; ++i) {
            auto w = spool->begin(envelope());
            REQUIRE(w);
            w->append("drain me");
            w->commit([&](std::error_code ec, std::string) { ++(ec ? failed : ok); });
        }
        spool.reset();  // no waiting before this
        CHECK(ok + failed == 30);
    }
    CHECK(failed == 0);
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    CHECK(rep.messages.size() == static_cast<std::size_t>(ok.load()));
}

TEST_CASE("a failed directory fsync fails exactly the commits it covered") {
    TempDir t;
    auto faults = std::make_shared<ScriptedFaults>();
    auto spool = open_recovered(t.path, faults);
    REQUIRE(spool);
    faults->arm(FaultPoint::fsync_dir, EIO, 1);
    std::vector<std::future<CommitResult>> fs;
    std::vector<std::unique_ptr<SpoolWriter>> ws;
    for (int i = 0; i < 20; ++i) {
        auto w = spool->begin(envelope());
        w->append("x");
        auto p = std::make_shared<std::promise<CommitResult>>();
        fs.push_back(p->get_future());
        w->commit([p](std::error_code ec, std::string id) { p->set_value({ec, id, {}}); });
        ws.push_back(std::move(w));
    }
    std::set<std::string> good;
    int bad = 0;
    for (auto& f : fs) {
        auto r = f.get();
        if (r.error) {
            CHECK(r.error == std::error_code(EIO, std::system_category()));
            ++bad;
        } else {
            good.insert(r.id);
        }
    }
    CHECK(bad >= 1);
    // Exactly the acknowledged messages are in the queue, on disk too.
    auto listed = spool->list();
    CHECK(std::set<std::string>(listed.begin(), listed.end()) == good);
    CHECK(count_entries(t / "queue") == good.size());
    spool.reset();
    faults->clear();
    RecoveryReport rep;
    spool = open_recovered(t.path, faults, &rep);
    CHECK(rep.messages.size() == good.size());
}

// A recovered spool with scripted faults and its own metrics registry.
struct MeteredSpool {
    TempDir t;
    rp::metrics::Metrics metrics;
    std::shared_ptr<ScriptedFaults> faults = std::make_shared<ScriptedFaults>();
    std::unique_ptr<FileSpool> spool;
    MeteredSpool() {
        auto opened = FileSpool::open(
            {.directory = t.path, .commit_workers = 2, .faults = faults, .metrics = &metrics});
        REQUIRE(opened);
        spool = std::move(opened.value);
        REQUIRE(spool->recover());
    }
};

TEST_CASE("spool errors are counted in relaypool_spool_errors_total") {
    MeteredSpool fixture;
    auto& metrics = fixture.metrics;
    auto& faults = fixture.faults;
    auto& spool = *fixture.spool;
    auto id = put(spool, "m");
    faults->arm(FaultPoint::fsync_message, EIO, 1);
    CHECK(put(spool, "lost").empty());
    faults->arm(FaultPoint::write_state, ENOSPC, 2);
    CHECK(spool.update_state(id, DeliveryState::fresh(1)));
    CHECK(spool.update_state(id, DeliveryState::fresh(1)));
    CHECK_FALSE(spool.quarantine(id, "test"));
    const std::string text = metrics.serialize();
    CHECK(text.find("relaypool_spool_errors_total{kind=\"commit\"} 1") != std::string::npos);
    CHECK(text.find("relaypool_spool_errors_total{kind=\"state_write\"} 2") != std::string::npos);
    CHECK(text.find("relaypool_spool_errors_total{kind=\"quarantined\"} 1") != std::string::npos);
}

TEST_CASE("a message whose file cannot be unlinked stays queued and is counted; remove_async reports it") {
    MeteredSpool fixture;
    auto& t = fixture.t;
    auto& metrics = fixture.metrics;
    auto& faults = fixture.faults;
    auto& spool = *fixture.spool;
    const std::string id = put(spool, "m");
    faults->arm(FaultPoint::remove_message, EROFS, 2);
    CHECK(spool.remove(id));  // the caller keeps it (the engine retries)
    std::promise<std::error_code> async_result;
    spool.remove_async(id, [&](std::error_code ec) { async_result.set_value(ec); });
    CHECK(async_result.get_future().get());
    CHECK(spool.list().size() == 1);
    CHECK(std::filesystem::exists(t / ("queue/" + id)));
    CHECK(metrics.serialize().find("relaypool_spool_errors_total{kind=\"remove\"} 2") != std::string::npos);
    std::promise<std::error_code> removed;
    spool.remove_async(id, [&](std::error_code ec) { removed.set_value(ec); });
    CHECK_FALSE(removed.get_future().get());
    CHECK(spool.list().empty());
    CHECK_FALSE(std::filesystem::exists(t / ("queue/" + id)));
}

TEST_CASE("a queue directory that cannot be written is an error at open, not a crash") {
    TempDir t;
    // Root writes anywhere: block the probe with a directory in its place
    // (unlink cannot remove it, O_EXCL cannot create over it).
    std::filesystem::create_directories(t / "tmp/.probe.1/x");
    FileSpoolOptions o;
    o.directory = t.path;
    auto r = FileSpool::open(o);
    CHECK_FALSE(r);
    CHECK(r.error.value() == EACCES);
}

TEST_CASE("a probe file left by a crash does not make the queue unwritable") {
    TempDir t;
    { auto spool = open_recovered(t.path); }
    spit(t / "tmp/.probe.1", "x");  // a crash between the probe's create and unlink
    FileSpoolOptions options;
    options.directory = t.path;
    CHECK(FileSpool::open(options));
}

TEST_CASE("blocking update_state from a spool callback is refused, not a deadlock") {
    TempDir t;
    auto spool = open_recovered(t.path);
    auto id = put(*spool, "m");
    std::promise<std::error_code> inner;
    spool->update_state_async(id, DeliveryState::fresh(1), [&](std::error_code) {
        inner.set_value(spool->update_state(id, DeliveryState::fresh(1)));
    });
    CHECK(inner.get_future().get() == std::make_error_code(std::errc::resource_deadlock_would_occur));
}
