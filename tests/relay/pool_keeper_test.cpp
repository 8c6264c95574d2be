// PoolKeeper and its store when a write fails (a full disk): the pool's
// journal lines it could not write are written with the next ones, never
// dropped ("records may be batched, never skipped"), so a pause made while
// the disk was full survives a restart once the disk has room.
#include <boost/asio/co_spawn.hpp>

#include <system_error>

#include "delivery_test_util.hpp"
#include "pool/state_file.hpp"

namespace {

using namespace engine_test;

std::error_code durable(Rig& rig) {
    std::error_code out = std::make_error_code(std::errc::interrupted);
    boost::asio::co_spawn(rig.io, rig.keeper.durable(), [&](std::exception_ptr e, std::error_code ec) {
        REQUIRE_FALSE(e);
        out = ec;
    });
    rig.run();
    return out;
}

pool::State state_after_restart(const Rig& rig, const std::string& account) {
    pool::Pool back({engine_test::account("a@pool.example"), engine_test::account("b@pool.example")},
                    pool_options(2));
    const pool::ParsedState parsed = pool::parse_state(rig.store.text());
    REQUIRE(parsed.status != pool::ParsedState::Status::unreadable);
    back.restore(parsed, rig.clock.now());
    for (const auto& s : back.status(rig.clock.now()))
        if (s.name == account) return s.state;
    FAIL("no account " << account);
    return pool::State::active;
}

}  // namespace

TEST_CASE("pool keeper: changes a full disk refused are written once it has room, in order") {
    Rig rig;
    REQUIRE_FALSE(rig.keeper.open());
    const auto full = std::make_error_code(std::errc::no_space_on_device);
    rig.store.fail_with(full);

    SUBCASE("flushed soon, then recorded by the next durable()") {
        REQUIRE(rig.pool.pause("a@pool.example", rig.clock.now()));
        rig.keeper.flush_soon();
        rig.run();
        CHECK(rig.keeper.problem() != "");
        CHECK(durable(rig) == full);
        rig.store.fail_with({});
        CHECK(durable(rig) == std::error_code());
        CHECK(rig.keeper.problem() == "");
        CHECK(state_after_restart(rig, "a@pool.example") == pool::State::paused);
    }
    SUBCASE("a later change is written after the one given back") {
        REQUIRE(rig.pool.pause("a@pool.example", rig.clock.now()));
        CHECK(durable(rig) == full);
        rig.store.fail_with({});
        REQUIRE(rig.pool.resume("a@pool.example", rig.clock.now()));
        CHECK(durable(rig) == std::error_code());
        CHECK(state_after_restart(rig, "a@pool.example") == pool::State::active);
        CHECK(rig.store.text().find("paused") < rig.store.text().find("resumed by operator"));
    }
}
