// MemorySpool, the twin: the same observable rules as FileSpool for the
// scheduler's and server's tests (exists only after done(ok), failed state
// writes keep the old state, held commits, injected faults).
#include <doctest/doctest.h>

#include <cerrno>

#include "spool/memory_spool.hpp"
#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

TEST_CASE("memory spool: commit, list, load, read body") {
    MemorySpool spool;
    std::vector<std::string> heard;
    spool.set_commit_listener([&](const MessageSummary& s) { heard.push_back(s.id); });
    auto a = put(spool, "hello\r\n", 2);
    auto b = put(spool, "world\r\n");
    REQUIRE(!a.empty());
    CHECK(b > a);
    CHECK(heard == std::vector<std::string>{a, b});
    CHECK(spool.list() == std::vector<std::string>{a, b});
    auto m = spool.load(a);
    REQUIRE(m);
    CHECK(m.value.envelope.spec.recipients.size() == 2);
    CHECK(m.value.state.recipients.size() == 2);
    CHECK(m.value.body_size == 7);
    CHECK(spool.read_body(a, 5).value == "hello");
    CHECK(spool.summary(a).value.recipients_pending == 2);
}

TEST_CASE("memory spool: held commits exist only after release") {
    MemorySpool spool;
    spool.hold_commits(true);
    auto w = spool.begin(envelope());
    w->append("x");
    std::string id;
    bool called = false;
    w->commit([&](std::error_code ec, std::string i) {
        called = true;
        CHECK_FALSE(ec);
        id = i;
    });
    CHECK_FALSE(called);
    CHECK(spool.held_commits() == 1);
    CHECK(spool.list().empty());
    spool.release_commits();
    CHECK(called);
    CHECK(spool.list() == std::vector<std::string>{id});
}

TEST_CASE("memory spool: injected failures") {
    MemorySpool spool;
    spool.refuse_begin(true);
    CHECK(spool.begin(envelope()) == nullptr);
    spool.refuse_begin(false);

    spool.fail_appends_after(3);
    auto w = spool.begin(envelope());
    CHECK(w->append("abc"));
    CHECK_FALSE(w->append("d"));
    CHECK(commit_sync(*w).error == std::make_error_code(std::errc::no_space_on_device));
    spool.fail_appends_after(~0ull);

    spool.fail_commits(1, std::error_code(EIO, std::system_category()));
    CHECK(put(spool, "x").empty());
    CHECK(spool.list().empty());
    auto id = put(spool, "y");
    REQUIRE(!id.empty());

    auto st = DeliveryState::fresh(1);
    st.attempts = 1;
    CHECK_FALSE(spool.update_state(id, st));
    spool.fail_state_writes(std::error_code(ENOSPC, std::system_category()));
    st.attempts = 2;
    CHECK(update_async_sync(spool, id, st) == std::error_code(ENOSPC, std::system_category()));
    CHECK(spool.load(id).value.state.attempts == 1);
    CHECK(spool.stats().state_write_errors == 1);
    spool.fail_state_writes({});
    CHECK(spool.update_state(id, DeliveryState::fresh(2)) == make_error_code(SpoolErrc::bad_state));

    CHECK_FALSE(spool.quarantine(id, "test"));
    CHECK(spool.quarantined().size() == 1);
    CHECK(spool.remove(id) == make_error_code(SpoolErrc::not_found));
}

TEST_CASE("memory spool: history is trimmed and active becomes ready+interrupted at recover") {
    MemorySpool spool;
    auto id = put(spool, "z");
    auto st = DeliveryState::fresh(1);
    st.state = MessageState::active;
    for (int i = 0; i < 30; ++i) st.history.push_back({{}, "a", std::to_string(i)});
    REQUIRE_FALSE(spool.update_state(id, st));
    CHECK(spool.load(id).value.state.history.size() == DeliveryState::max_history);
    CHECK(spool.load(id).value.state.history.front().result == "10");
    auto rec = spool.recover();
    REQUIRE(rec.value.messages.size() == 1);
    CHECK(rec.value.messages[0].interrupted);
    CHECK(rec.value.messages[0].state == MessageState::ready);
}
