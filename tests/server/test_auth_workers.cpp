// server/auth_workers: the queue of password checks is bounded. The one
// worker is held inside a completion callback (callbacks run on the worker
// thread), so what is queued at each point is known exactly.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>

#include "server/auth_workers.hpp"
#include "server/password.hpp"

TEST_CASE("AuthWorkers refuses checks beyond max_queued and runs the accepted ones") {
    auto hash = rp::server::hash_password("right");
    REQUIRE(hash);
    std::atomic<int> ok{0}, failed{0};
    std::promise<void> entered, release;
    auto released = release.get_future().share();
    {
        rp::server::AuthWorkers workers(1, 2);
        // A: occupies the only worker until released.
        bool a = workers.submit("right", *hash, [&](bool result) {
            (result ? ok : failed)++;
            entered.set_value();
            released.wait();
        });
        REQUIRE(a);
        REQUIRE(entered.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
        auto count = [&](bool result) { (result ? ok : failed)++; };
        struct Row {
            const char* password;
            bool queued;
        };
        const Row rows[] = {{"right", true}, {"wrong", true}, {"right", false}, {"wrong", false}};
        for (const auto& r : rows) {
            CAPTURE(r.password);
            CHECK(workers.submit(r.password, *hash, count) == r.queued);
        }
        release.set_value();
    }                    // the destructor drains the queue and joins
    CHECK(ok == 2);      // A and the first queued
    CHECK(failed == 1);  // the queued wrong password
}
