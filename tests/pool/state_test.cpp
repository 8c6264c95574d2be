// pool.state: sealed lines, torn tails, unreadable files, and the pool's
// snapshot + journal round trip (a "restart" is a new Pool restored from the
// text the old one wrote).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "pool/file_store.hpp"
#include "pool/state_file.hpp"
#include "pool_test_util.hpp"

using namespace pool_test;
using pool::ParsedState;

namespace {

// What a crash at `now` leaves: the last snapshot plus the journal since.
pool::Pool restart(const std::string& text, std::vector<config::Account> list, WallTime now,
                   pool::Options o = options()) {
    pool::Pool p(std::move(list), o);
    const ParsedState parsed = pool::parse_state(text);
    REQUIRE(parsed.status != ParsedState::Status::unreadable);
    p.restore(parsed, now);
    return p;
}

std::string temp_dir() {
    auto dir = std::filesystem::temp_directory_path() /
               ("rp-pool-state-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
    std::filesystem::create_directories(dir);
    return dir.string();
}

}  // namespace

TEST_CASE("sealed lines parse back; the reason keeps its spaces") {
    const std::string text = pool::record({"X", "a@x", "disabled", "1", "0", "535 5.7.8 bad\ncredentials"}) +
                             pool::record({"S", "7", "a@x", "1000", "2"});
    const ParsedState p = pool::parse_state(text);
    REQUIRE(p.status == ParsedState::Status::ok);
    REQUIRE(p.records.size() == 2);
    CHECK(p.records[0][5] == "535 5.7.8 bad credentials");
    CHECK(p.records[1] == std::vector<std::string>{"S", "7", "a@x", "1000", "2"});
}

TEST_CASE("a torn tail is dropped; damage in the middle makes the file unreadable") {
    const std::string good = pool::record({"H", "relaypool-pool-state", "1", "0", "1"}) +
                             pool::record({"S", "1", "a@x", "1000", "1"});
    const std::string next = pool::record({"S", "2", "a@x", "2000", "1"});
    SUBCASE("cut mid-line") {
        const ParsedState p = pool::parse_state(good + next.substr(0, 10));
        CHECK(p.status == ParsedState::Status::torn_tail);
        CHECK(p.records.size() == 2);
    }
    SUBCASE("last line without newline") {
        const ParsedState p = pool::parse_state(good + next.substr(0, next.size() - 1));
        CHECK(p.status == ParsedState::Status::torn_tail);
        CHECK(p.records.size() == 2);
    }
    SUBCASE("a flipped byte in the middle") {
        std::string bad = good + next;
        bad[good.size() / 2 + 3] ^= 1;
        CHECK(pool::parse_state(bad).status == ParsedState::Status::unreadable);
    }
    SUBCASE("garbage") {
        CHECK(pool::parse_state("not a pool state\n").status == ParsedState::Status::unreadable);
        CHECK(pool::parse_state(std::string("\0\0\0\0", 4)).status == ParsedState::Status::unreadable);
    }
    SUBCASE("empty is a new file") {
        CHECK(pool::parse_state("").status == ParsedState::Status::ok);
    }
}

TEST_CASE(
    "an intact line with no fields is no record, and restore skips empty records (found by "
    "fuzz_pool_state)") {
    // " #cbf29ce484222325": the FNV-1a of nothing, so the seal checks out.
    const auto minute =
        std::to_string(std::chrono::duration_cast<std::chrono::minutes>(t0().time_since_epoch()).count());
    const std::string text = pool::record({"H", "relaypool-pool-state", "1", "0", "1"}) + pool::seal("") +
                             pool::record({"B", "a@x", minute, "2", "3"});
    const ParsedState p = pool::parse_state(text);
    CHECK(p.status == ParsedState::Status::ok);
    REQUIRE(p.records.size() == 2);
    for (const auto& r : p.records) CHECK_FALSE(r.empty());
    ParsedState with_empty = p;
    with_empty.records.insert(with_empty.records.begin() + 1, std::vector<std::string>{});
    pool::Pool restored({account("a@x")}, options());
    restored.restore(with_empty, t0());  // UB (f[0] of nothing) before the fix
    CHECK(status_of(restored, "a@x", t0()).day.messages == 2);
}

TEST_CASE("usage, states, in-flight sends and the round-robin position survive a restart") {
    pool::Pool p(accounts(3, 5), options());
    std::string file = p.snapshot(t0());
    for (int i = 0; i < 7; ++i) send(p, t0() + std::chrono::minutes(i));  // a0:3 a1:2 a2:2
    auto open = p.reserve(2, "", t0() + 10min);                           // a1, never settled (crash)
    REQUIRE(open.name == "a1@pool.test");
    REQUIRE(p.pause("a2@pool.test", t0() + 10min));
    p.blame(0, pool::Blame::cool_down, "454 4.7.0 Too many login attempts", t0() + 10min);
    file += p.take_journal();

    pool::Pool back = restart(file, accounts(3, 5), t0() + 11min);
    const WallTime now = t0() + 11min;
    CHECK(status_of(back, "a0@pool.test", now).day.messages == 3);
    CHECK(status_of(back, "a0@pool.test", now).state == pool::State::cooling_down);
    CHECK(status_of(back, "a1@pool.test", now).day.messages == 3);  // the unsettled send counts
    CHECK(status_of(back, "a1@pool.test", now).day.recipients == 4);
    CHECK(status_of(back, "a2@pool.test", now).state == pool::State::paused);
    CHECK(status_of(back, "a2@pool.test", now).reason == "paused by operator");
    // a1 sent last: round-robin goes on with a2 (paused), a0 (cooling) -> a1.
    CHECK(send(back, now) == "a1@pool.test");

    // And a snapshot of the restored pool says the same (a snapshot covers
    // the journal recorded before it, as PoolKeeper uses it).
    back.take_journal();
    pool::Pool again = restart(back.snapshot(now), accounts(3, 5), now);
    CHECK(status_of(again, "a1@pool.test", now).day.messages == 4);
    CHECK(status_of(again, "a0@pool.test", now).state == pool::State::cooling_down);
}

TEST_CASE("limits hold across restarts: 4 accounts at 5 a day send 20, not 30") {
    std::string file;
    int delivered = 0;
    WallTime now = t0();
    for (int run = 0; run < 3; ++run) {
        pool::Pool p = restart(file, accounts(4, 5), now);
        file = p.snapshot(now);
        for (int i = 0; i < 10; ++i) {
            if (!send(p, now).empty()) ++delivered;
            now += 1min;
        }
        file += p.take_journal();
    }
    CHECK(delivered == 20);
}

TEST_CASE("a settle for a reservation from before the snapshot still applies") {
    pool::Pool p(accounts(1, 10), options());
    auto r = p.reserve(3, "", t0());
    std::string file = p.snapshot(t0());
    p.take_journal();
    p.settle(r, 0, t0() + 1min);  // released after the snapshot
    file += p.take_journal();
    pool::Pool back = restart(file, accounts(1, 10), t0() + 2min);
    CHECK(status_of(back, "a0@pool.test", t0() + 2min).day.messages == 0);
}

TEST_CASE("an unreadable pool.state: every account assumed full until 24 h after the last write") {
    pool::Pool p(accounts(2, 5), options());
    p.assume_full(t0() - 2h, "pool.state unreadable", t0());
    CHECK_FALSE(p.any_usable(t0()));
    auto s = status_of(p, "a0@pool.test", t0());
    CHECK(s.state == pool::State::exhausted);
    REQUIRE(s.until);
    CHECK(*s.until == t0() + 22h);
    REQUIRE(p.resume("a0@pool.test", t0()));
    CHECK(send(p, t0()) == "a0@pool.test");
}

TEST_CASE("FileStore: appends are durable and ordered, a snapshot replaces, one owner per file") {
    const std::string dir = temp_dir();
    const std::string path = dir + "/state/pool.state";  // the directory is created
    {
        std::string error;
        auto store = pool::FileStore::open(path, error);
        REQUIRE_MESSAGE(store, error);
        std::string second_error;
        CHECK_FALSE(pool::FileStore::open(path, second_error));
        CHECK(second_error.find("held by") != std::string::npos);
        std::vector<std::error_code> results(3, std::make_error_code(std::errc::io_error));
        store->append(pool::record({"S", "1", "a@x", "1", "1"}),
                      [&](std::error_code ec) { results[0] = ec; });
        store->replace(pool::record({"H", "relaypool-pool-state", "1", "5", "9"}),
                       [&](std::error_code ec) { results[1] = ec; });
        std::promise<void> done;
        store->append(pool::record({"S", "9", "a@x", "6", "1"}), [&](std::error_code ec) {
            results[2] = ec;
            done.set_value();
        });
        done.get_future().wait();
        for (auto ec : results) CHECK_FALSE(ec);
    }
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const ParsedState parsed = pool::parse_state(text);
    REQUIRE(parsed.status == ParsedState::Status::ok);
    REQUIRE(parsed.records.size() == 2);
    CHECK(parsed.records[0][0] == "H");
    CHECK(parsed.records[1][1] == "9");
    std::string error;
    auto reopened = pool::FileStore::open(path, error);  // the lock went with the first store
    REQUIRE_MESSAGE(reopened, error);
    pool::Store::Loaded loaded;
    REQUIRE_FALSE(reopened->load(loaded));
    CHECK(loaded.text == text);
    std::string aside;
    REQUIRE_FALSE(reopened->set_aside(aside));
    CHECK(std::filesystem::exists(aside));
    reopened.reset();
    std::filesystem::remove_all(dir);
}
