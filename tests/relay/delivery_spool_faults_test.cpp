// One delivery attempt over a real FileSpool whose reads fail or whose files
// are damaged: a message that fails its integrity check is quarantined
// (kept, counted in relaypool_spool_errors_total{kind="quarantined"}) and
// dropped from the schedule instead of being retried forever; an OS read
// error (EIO, EMFILE, ENOMEM) keeps it queued with a backoff and it goes out
// once the disk reads again. Faults come from FileSpoolOptions::faults.
#include <doctest/doctest.h>

#include <boost/asio/detached.hpp>

#include <cerrno>
#include <filesystem>
#include <optional>

#include "../spool/spool_test_util.hpp"
#include "delivery_test_util.hpp"
#include "relay/delivery.hpp"
#include "spool/file_spool.hpp"

using namespace engine_test;
using Kind = relay::Disposition::Kind;

namespace {

struct FileRig {
    spool_test::TempDir dir;
    std::shared_ptr<spool_test::ScriptedFaults> faults = std::make_shared<spool_test::ScriptedFaults>();
    Rig rig;
    std::unique_ptr<spool::FileSpool> spool;

    FileRig() {
        auto opened = spool::FileSpool::open(
            {.directory = dir.path, .commit_workers = 2, .faults = faults, .metrics = &rig.metrics});
        REQUIRE(opened);
        spool = std::move(opened.value);
        REQUIRE(spool->recover());
        REQUIRE_FALSE(rig.keeper.open());
    }

    std::string submit() { return spool_test::put(*spool, "Subject: hi\r\n\r\nhello\r\n", 1); }

    // Runs one attempt to its end (FileSpool callbacks come from its workers).
    relay::Disposition attempt(const std::string& id) {
        relay::DeliveryContext ctx{*spool,      *spool,    rig.transport, rig.keeper,
                                   rig.metrics, rig.clock, rig.options};
        std::optional<relay::Disposition> d;
        boost::asio::co_spawn(
            rig.io, [&]() -> boost::asio::awaitable<void> { d = co_await relay::attempt_delivery(ctx, id); },
            boost::asio::detached);
        for (int i = 0; i < 3000 && !d; ++i) {
            rig.io.restart();
            rig.io.run_for(std::chrono::milliseconds(10));
        }
        REQUIRE(d);
        return *d;
    }

    void damage_header(const std::string& id) {
        const std::string path = dir / ("queue/" + id);
        std::string data = spool_test::slurp(path);
        data[data.find("from ") + 5] ^= 0x01;  // the header checksum no longer matches
        spool_test::spit(path, data);
    }

    double quarantined_metric() {
        return rig.metric("relaypool_spool_errors_total", {"kind=\"quarantined\""});
    }
};

}  // namespace

TEST_CASE("a message that fails its integrity check at load is quarantined, not retried forever") {
    FileRig f;
    const auto id = f.submit();
    f.damage_header(id);
    const auto d = f.attempt(id);
    CHECK(d.kind == Kind::removed);  // off the schedule
    CHECK(f.rig.transport.calls.empty());
    CHECK(f.spool->list().empty());
    CHECK(std::filesystem::exists(f.dir / ("quarantine/" + id)));  // kept for an operator
    CHECK_FALSE(std::filesystem::exists(f.dir / ("queue/" + id)));
    CHECK(f.quarantined_metric() == 1);
    CHECK(f.spool->stats().quarantined == 1);
    // Had it stayed scheduled, expiry could never have ended it (the
    // envelope is unreadable); now a later attempt finds nothing.
    f.rig.clock.advance(std::chrono::hours(24 * 6));
    CHECK(f.attempt(id).kind == Kind::removed);
    CHECK(f.rig.dsns.queued.empty());
}

TEST_CASE("an OS error at load keeps the message queued with a backoff; it goes out later") {
    for (int err : {EIO, EMFILE, ENOMEM}) {
        CAPTURE(err);
        FileRig f;
        const auto id = f.submit();
        f.faults->arm(spool::FaultPoint::read_message, err);
        const auto now = f.rig.clock.now();
        const auto d = f.attempt(id);
        CHECK(d.kind == Kind::due_at);
        CHECK(d.at >= now + f.rig.options.retry_initial);
        CHECK(f.spool->list() == std::vector<std::string>{id});
        CHECK(std::filesystem::exists(f.dir / ("queue/" + id)));
        CHECK(f.quarantined_metric() == 0);
        CHECK(f.rig.transport.calls.empty());

        f.faults->clear();
        f.rig.clock.advance(f.rig.options.retry_initial);
        CHECK(f.attempt(id).kind == Kind::removed);
        REQUIRE(f.rig.transport.calls.size() == 1);
        CHECK(f.rig.transport.calls[0].message_id == id);
        CHECK(f.spool->list().empty());
        CHECK(f.quarantined_metric() == 0);
    }
}

TEST_CASE("a damaged state file at load: the state is quarantined, the message still goes out") {
    FileRig f;
    const auto id = f.submit();
    spool::DeliveryState st = spool::DeliveryState::fresh(1);
    st.state = spool::MessageState::deferred;
    st.attempts = 2;
    REQUIRE_FALSE(f.spool->update_state(id, st));
    spool_test::spit(f.dir / ("queue/" + id + ".state"), "RELAYPOOL-STATE 1\ngarbage\n");
    CHECK(f.attempt(id).kind == Kind::removed);
    CHECK(f.rig.transport.calls.size() == 1);  // delivered (at-least-once), not lost
    CHECK(std::filesystem::exists(f.dir / ("quarantine/" + id + ".state")));
    CHECK(f.quarantined_metric() == 1);
}

TEST_CASE("a failed unlink after a clean finish writes the final state: a restart does not resend") {
    FileRig f;
    const auto id = f.submit();
    f.faults->arm(spool::FaultPoint::remove_message, EIO, 1);
    const auto d = f.attempt(id);
    CHECK(d.kind == Kind::due_at);  // the remove is retried later
    REQUIRE(f.rig.transport.calls.size() == 1);
    // What a restart would read now: the recipient is already delivered.
    auto on_disk = f.spool->load(id);
    REQUIRE(on_disk);
    CHECK(on_disk.value.state.recipients.at(0).status == spool::RecipientStatus::delivered);
    f.rig.clock.advance(f.rig.options.retry_initial);
    CHECK(f.attempt(id).kind == Kind::removed);
    CHECK(f.rig.transport.calls.size() == 1);  // the retry only removed it
    CHECK(f.spool->list().empty());
}
