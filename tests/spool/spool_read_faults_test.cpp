// FileSpool when reading fails: an OS error while reading a message or its
// state file (EMFILE, EIO, ENOMEM, injected with FaultPoint::read_message /
// read_state) is not a verdict on the file. recover() keeps such a message in
// queue/ and lists it; load() validates it later. Only a file that was read
// and is invalid is quarantined. Also load() of a corrupt file at run time.
#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>

#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

namespace {

DeliveryState deferred(std::size_t n, std::uint32_t attempts) {
    DeliveryState s = DeliveryState::fresh(n);
    s.state = MessageState::deferred;
    s.attempts = attempts;
    s.last_error = "421 4.7.0 later";
    return s;
}

// Commits one message (with an optional state) in a spool that is then closed.
std::string stored_message(const TempDir& t, const std::string& body, std::size_t n_rcpt,
                           const DeliveryState* state = nullptr) {
    auto spool = open_recovered(t.path);
    REQUIRE(spool);
    const std::string id = put(*spool, body, n_rcpt);
    REQUIRE_FALSE(id.empty());
    if (state) REQUIRE_FALSE(spool->update_state(id, *state));
    return id;
}

}  // namespace

TEST_CASE("recover: an unreadable message (OS error) stays queued and listed, never quarantined") {
    for (int err : {EMFILE, EIO, ENOMEM}) {
        CAPTURE(err);
        TempDir t;
        const std::string id = stored_message(t, "Subject: x\r\n\r\nbody\r\n", 2);
        auto faults = std::make_shared<ScriptedFaults>();
        faults->arm(FaultPoint::read_message, err);
        RecoveryReport rep;
        auto spool = open_recovered(t.path, faults, &rep);
        REQUIRE(spool);
        CHECK(rep.quarantined == 0);
        CHECK(rep.unreadable == 1);
        REQUIRE(rep.messages.size() == 1);
        CHECK(rep.messages[0].id == id);
        CHECK(rep.messages[0].state == MessageState::ready);
        CHECK(spool->list() == std::vector<std::string>{id});
        CHECK(std::filesystem::exists(t / ("queue/" + id)));
        CHECK(count_entries(t / "quarantine") == 0);

        // Still unreadable: load() says so (an OS error, not corrupt), and the
        // body offset is not guessed.
        auto still = spool->load(id);
        CHECK(still.error == std::error_code(err, std::system_category()));
        CHECK_FALSE(spool->open_body(id));

        // Readable again: validated at load, delivered like any other.
        faults->clear();
        auto m = spool->load(id);
        REQUIRE(m);
        CHECK(m.value.envelope.spec.recipients.size() == 2);
        CHECK(m.value.state.recipients.size() == 2);
        auto body = spool->read_body(id, 1 << 20);
        REQUIRE(body);
        CHECK(body.value == "Subject: x\r\n\r\nbody\r\n");
        auto sum = spool->summary(id);
        REQUIRE(sum);
        CHECK(sum.value.recipients_total == 2);
        CHECK(sum.value.recipients_pending == 2);
        CHECK_FALSE(spool->update_state(id, deferred(2, 1)));  // the recipient count is known now
    }
}

TEST_CASE("recover: an unreadable state file keeps the message and its state for later") {
    TempDir t;
    const DeliveryState st = deferred(1, 3);
    const std::string id = stored_message(t, "m", 1, &st);
    auto faults = std::make_shared<ScriptedFaults>();
    faults->arm(FaultPoint::read_state, EIO, 1);
    RecoveryReport rep;
    auto spool = open_recovered(t.path, faults, &rep);
    REQUIRE(spool);
    CHECK(rep.quarantined == 0);
    CHECK(rep.unreadable == 1);
    CHECK(rep.orphan_states_removed == 0);
    CHECK(std::filesystem::exists(t / ("queue/" + id + ".state")));
    auto m = spool->load(id);  // the fault fired once: readable now
    REQUIRE(m);
    CHECK(m.value.state.attempts == 3);  // not restarted from fresh
    CHECK(spool->summary(id).value.attempts == 3);
}

TEST_CASE("recover: a file that was read and is invalid is still quarantined") {
    TempDir t;
    const std::string id = stored_message(t, "m", 1);
    std::string data = slurp(t / ("queue/" + id));
    data[data.find("from ") + 5] ^= 0x01;  // checksum mismatch
    spit(t / ("queue/" + id), data);
    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    CHECK(rep.quarantined == 1);
    CHECK(rep.unreadable == 0);
    CHECK(spool->list().empty());
    CHECK(std::filesystem::exists(t / ("quarantine/" + id)));
}

TEST_CASE("load: unreadable at recover, then found corrupt, is reported corrupt (not an OS error)") {
    TempDir t;
    const std::string id = stored_message(t, "m", 1);
    auto faults = std::make_shared<ScriptedFaults>();
    faults->arm(FaultPoint::read_message, EIO, 1);
    auto spool = open_recovered(t.path, faults);
    REQUIRE(spool);
    std::string data = slurp(t / ("queue/" + id));
    data[data.find("from ") + 5] ^= 0x01;
    spit(t / ("queue/" + id), data);
    CHECK(spool->load(id).error == make_error_code(SpoolErrc::corrupt));
    CHECK(spool->list() == std::vector<std::string>{id});  // the caller decides (delivery quarantines)
}

TEST_CASE("load: a message header damaged at run time is corrupt; a read error is not") {
    TempDir t;
    auto faults = std::make_shared<ScriptedFaults>();
    auto spool = open_recovered(t.path, faults);
    REQUIRE(spool);
    const std::string id = put(*spool, "m", 1);
    faults->arm(FaultPoint::read_message, EIO, 1);
    CHECK(spool->load(id).error == std::error_code(EIO, std::system_category()));
    CHECK(spool->load(id));
    std::string data = slurp(t / ("queue/" + id));
    data[data.find("from ") + 5] ^= 0x01;
    spit(t / ("queue/" + id), data);
    CHECK(spool->load(id).error == make_error_code(SpoolErrc::corrupt));
}

TEST_CASE("load: an invalid state file at run time is quarantined; the message restarts fresh") {
    TempDir t;
    auto spool = open_recovered(t.path);
    REQUIRE(spool);
    const std::string id = put(*spool, "m", 2);
    REQUIRE_FALSE(spool->update_state(id, deferred(2, 4)));
    spit(t / ("queue/" + id + ".state"), "RELAYPOOL-STATE 1\ngarbage\n");
    auto m = spool->load(id);
    REQUIRE(m);
    CHECK(m.value.state.attempts == 0);
    CHECK(m.value.state.recipients.size() == 2);
    CHECK(std::filesystem::exists(t / ("quarantine/" + id + ".state")));
    CHECK_FALSE(std::filesystem::exists(t / ("queue/" + id + ".state")));
    CHECK(spool->stats().quarantined == 1);
    CHECK(spool->list() == std::vector<std::string>{id});
}
