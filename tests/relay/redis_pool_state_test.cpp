// RedisPoolState against a real redis-server (started here on a free port,
// in a temporary directory, and stopped at the end): the reservation
// script's windows (daily, recipients, hourly), when a full account frees,
// settlement, expiry of reservations nobody settled, NOSCRIPT recovery, and
// `unavailable` while Redis is down. Times are passed explicitly (now_ms) so
// the windows are exact. Skipped, with a message, without redis-server.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <fcntl.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "relay/redis_connection.hpp"
#include "relay/redis_pool_state.hpp"

namespace {

using rp::relay::RedisPoolState;
using rp::relay::RedisReply;
using rp::relay::SharedReserve;
using Result = SharedReserve::Result;

constexpr std::int64_t kMinute = 60000;
constexpr std::int64_t kT0 = 29'000'000LL * kMinute;  // a minute boundary

bool have_redis() {
    return std::system("command -v redis-server >/dev/null 2>&1") == 0;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

class RedisProcess {
  public:
    RedisProcess() : port_(free_port()) {
        dir_ = std::filesystem::temp_directory_path() / ("rp-redis-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir_);
        start();
    }
    ~RedisProcess() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    void start() {
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string port = std::to_string(port_);
            const std::string dir = dir_.string();
            const int null = ::open("/dev/null", O_WRONLY);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--dir",
                     dir.c_str(), "--save", "", "--appendonly", "yes", static_cast<char*>(nullptr));
            ::_exit(127);
        }
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_;
    std::filesystem::path dir_;
    pid_t pid_ = -1;
};

struct Fixture {
    explicit Fixture(std::uint16_t port) {
        url.host = "127.0.0.1";
        url.port = port;
        url.prefix = "t" + std::to_string(::getpid());
        url.reservation_ttl_s = 60;
        url.poll_ms = 50;
        state = std::make_unique<RedisPoolState>(io.get_executor(), url, "");
        state->start();
    }
    bool wait_ready(bool want = true) {
        for (int i = 0; i < 400 && state->ready() != want; ++i) io.run_for(std::chrono::milliseconds(25));
        return state->ready() == want;
    }
    SharedReserve reserve(const std::string& id, std::uint32_t rcpts, std::int64_t now, std::uint32_t daily,
                          std::uint32_t recipients = 0, std::uint32_t hourly = 0) {
        std::optional<SharedReserve> out;
        rp::pool::Limits l;
        l.daily = daily;
        l.recipients = recipients;
        l.hourly = hourly;
        state->reserve(
            "a@x", id, rcpts, l, [&](SharedReserve r) { out = r; }, now);
        while (!out) io.run_one();
        return *out;
    }
    RedisReply raw(std::vector<std::string> args) {
        std::optional<RedisReply> out;
        state->raw(std::move(args), [&](RedisReply r) { out = std::move(r); });
        while (!out) io.run_one();
        return *out;
    }
    void settle(const std::string& id, std::uint32_t delivered, std::int64_t now) {
        state->settle("a@x", id, delivered, now);
        raw({"PING"});  // in order: the settlement ran before this answer
    }
    boost::asio::io_context io;
    rp::config::RedisUrl url;
    std::unique_ptr<RedisPoolState> state;
};

}  // namespace

TEST_CASE("redis pool state: windows, settlement, expiry, reconnect") {
    if (!have_redis()) {
        MESSAGE("skipped: redis-server is not installed (scripts/install-deps.sh installs it)");
        return;
    }
    RedisProcess redis;
    Fixture f(redis.port());
    REQUIRE(f.wait_ready());

    SUBCASE("the daily message limit holds exactly; room comes back 24 h + 1 min after a bucket") {
        CHECK(f.reserve("r1", 1, kT0, 3).result == Result::ok);
        CHECK(f.reserve("r2", 1, kT0 + 10 * kMinute, 3).result == Result::ok);
        CHECK(f.reserve("r3", 1, kT0 + 20 * kMinute, 3).result == Result::ok);
        const SharedReserve full = f.reserve("r4", 1, kT0 + 30 * kMinute, 3);
        CHECK(full.result == Result::full);
        CHECK(full.until_ms == kT0 + 1441 * kMinute);  // the first bucket leaves the window
        CHECK(f.reserve("r5", 1, kT0 + 1440 * kMinute, 3).result == Result::full);
        CHECK(f.reserve("r6", 1, kT0 + 1441 * kMinute, 3).result == Result::ok);
    }
    SUBCASE("recipients: a message that does not fit is refused whole") {
        CHECK(f.reserve("r1", 4, kT0, 100, 5).result == Result::ok);
        CHECK(f.reserve("r2", 2, kT0, 100, 5).result == Result::full);
        CHECK(f.reserve("r3", 1, kT0, 100, 5).result == Result::ok);
    }
    SUBCASE("hourly: frees 61 minutes after the oldest bucket of the hour") {
        CHECK(f.reserve("r1", 1, kT0, 100, 0, 2).result == Result::ok);
        CHECK(f.reserve("r2", 1, kT0 + 5 * kMinute, 100, 0, 2).result == Result::ok);
        const SharedReserve full = f.reserve("r3", 1, kT0 + 6 * kMinute, 100, 0, 2);
        CHECK(full.result == Result::full);
        CHECK(full.until_ms == kT0 + 61 * kMinute);
        CHECK(f.reserve("r4", 1, kT0 + 61 * kMinute, 100, 0, 2).result == Result::ok);
    }
    SUBCASE("settle: nothing sent releases the message; a partial send releases the rest") {
        CHECK(f.reserve("r1", 3, kT0, 2, 4).result == Result::ok);
        f.settle("r1", 0, kT0);
        CHECK(f.reserve("r2", 3, kT0, 2, 4).result == Result::ok);
        f.settle("r2", 1, kT0);  // 1 of 3 delivered: 1 message, 1 recipient count
        CHECK(f.reserve("r3", 3, kT0, 2, 4).result == Result::ok);
        CHECK(f.reserve("r4", 1, kT0, 2, 4).result == Result::full);  // 2 messages
        f.settle("unknown", 0, kT0);                                  // no effect
        CHECK(f.reserve("r5", 1, kT0, 2, 4).result == Result::full);
    }
    SUBCASE("a reservation nobody settles expires after the TTL and stays counted") {
        CHECK(f.reserve("crashed", 1, kT0, 2).result == Result::ok);
        const std::string t = f.url.prefix + ":t:a@x";
        CHECK(f.raw({"ZCARD", t}).integer == 1);
        CHECK(f.reserve("r2", 1, kT0 + 61'000, 2).result == Result::ok);  // past the 60 s TTL: pruned
        CHECK(f.raw({"ZCARD", t}).integer == 1);                          // only r2 is tracked
        f.settle("crashed", 0, kT0 + 62'000);                             // too late: still counted
        CHECK(f.reserve("r3", 1, kT0 + 62'000, 2).result == Result::full);
    }
    SUBCASE("the kept day totals follow the buckets: minute by minute, and after days idle") {
        for (int i = 0; i < 5; ++i)
            CHECK(f.reserve("a" + std::to_string(i), 2, kT0 + i * kMinute, 5, 10).result == Result::ok);
        CHECK(f.reserve("a5", 1, kT0 + 1440 * kMinute, 5, 10).result == Result::full);
        CHECK(f.reserve("a6", 2, kT0 + 1441 * kMinute, 5, 10).result == Result::ok);  // minute 0 left
        CHECK(f.reserve("a7", 2, kT0 + 1441 * kMinute, 5, 10).result == Result::full);
        CHECK(f.reserve("a8", 4, kT0 + 1443 * kMinute, 5, 10).result == Result::ok);  // minutes 1, 2 left
        CHECK(f.reserve("b1", 10, kT0 + 4 * 1440 * kMinute, 5, 10).result == Result::ok);  // idle: recounted
        CHECK(f.reserve("b2", 1, kT0 + 4 * 1440 * kMinute, 5, 10).result == Result::full);
    }
    SUBCASE("a pause in the shared state is replaced by an operator's change only") {
        auto publish = [&](const std::string& stored, bool by_operator) {
            std::optional<bool> done;
            f.state->publish("a@x", stored, by_operator, [&](bool ok) { done = ok; });
            while (!done) f.io.run_one();
            return *done;
        };
        auto shared = [&] { return f.raw({"HGET", f.url.prefix + ":states", "a@x"}).str; };
        CHECK(publish("paused 1000 0 paused by operator", true));
        const std::string paused = shared();
        CHECK(paused.find(" paused 1000 0 paused by operator") != std::string::npos);
        // Another instance, not yet aware of the pause, blames the account.
        CHECK(publish("cooling_down 2000 3000 454 4.7.0 Too many login attempts", false));
        CHECK(publish("active 4000 0 ", false));  // an expiry
        CHECK(shared() == paused);
        CHECK(publish("active 5000 0 resumed by operator", true));
        CHECK(shared().find(" active 5000 0 resumed by operator") != std::string::npos);
        CHECK(publish("cooling_down 6000 7000 454 4.7.0 Too many login attempts", false));
        CHECK(shared().find(" cooling_down 6000 7000 ") != std::string::npos);
    }
    SUBCASE("NOSCRIPT: the scripts are loaded again") {
        CHECK(f.raw({"SCRIPT", "FLUSH"}).type == RedisReply::Type::status);
        CHECK(f.reserve("r1", 1, kT0, 2).result == Result::ok);
    }
    SUBCASE("Redis down: unavailable, not ready, and back after a restart") {
        redis.stop();
        CHECK(f.wait_ready(false));
        CHECK(f.reserve("r1", 1, kT0, 2).result == Result::unavailable);
        CHECK(!f.state->problem().empty());
        redis.start();
        CHECK(f.wait_ready());
        CHECK(f.reserve("r2", 1, kT0, 2).result == Result::ok);
    }
    SUBCASE("a refused write: not ready for a backoff (no send loop), then ready again by itself") {
        // Writes refused as with MISCONF (a full AOF disk) or OOM; reads work.
        REQUIRE(f.raw({"CONFIG", "SET", "min-replicas-to-write", "1"}).type == RedisReply::Type::status);
        const SharedReserve r = f.reserve("r1", 1, kT0, 2);
        CHECK(r.result == Result::unavailable);
        CHECK(r.why.find("NOREPLICAS") != std::string::npos);
        CHECK_FALSE(f.state->ready());  // the engine holds its messages instead of asking again
        CHECK(f.state->problem().find("NOREPLICAS") != std::string::npos);
        f.io.run_for(std::chrono::milliseconds(300));  // polls succeed meanwhile (reads are fine)
        CHECK_FALSE(f.state->ready());
        REQUIRE(f.raw({"CONFIG", "SET", "min-replicas-to-write", "0"}).type == RedisReply::Type::status);
        CHECK(f.wait_ready());  // after the backoff (1 s), on the next poll
        CHECK(f.reserve("r2", 1, kT0, 2).result == Result::ok);
    }
    SUBCASE("SCRIPT LOAD refused after a reconnect: retried on the same connection until it works") {
        // As while Redis loads its AOF after a restart (LOADING), or an ACL
        // without SCRIPT: connected, authenticated, but no scripts.
        REQUIRE(f.raw({"ACL", "SETUSER", "default", "-script"}).type == RedisReply::Type::status);
        f.raw({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"});  // this connection: it reconnects
        f.io.run_for(std::chrono::milliseconds(500));
        CHECK_FALSE(f.state->ready());
        CHECK(f.state->problem().find("SCRIPT LOAD") != std::string::npos);
        REQUIRE(f.raw({"ACL", "SETUSER", "default", "+script"}).type == RedisReply::Type::status);
        CHECK(f.wait_ready());
        CHECK(f.reserve("r1", 1, kT0, 2).result == Result::ok);
    }
    f.raw({"FLUSHALL"});
    f.state->stop();
}
