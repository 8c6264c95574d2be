// RedisConnection: one pipelined connection to Redis, driven from the
// engine's Asio loop, that reconnects by itself (with backoff) while it is
// not stopped. Used by relay/redis_pool_state.* only.
//
// Why this shape (a Redis reachable over TLS must work): Debian 12 ships hiredis
// 0.14, whose async API has no TLS (hiredis_ssl came with 1.0) and no Asio
// adapter. So hiredis does the protocol — commands are formatted by
// redisFormatCommandArgv and replies parsed by its redisReader — and the
// transport is Asio's, plain TCP or TLS through one code path, on the
// engine's own thread: no thread hop per reservation, no lock, and the
// same OpenSSL set-up as the upstream transport. No RESP is written here.
//
// Invariants:
// - Replies are matched to commands in order (Redis answers a connection's
//   commands in order); every callback runs exactly once, on the executor:
//   with the reply, or with an io_failed() reply when the connection drops
//   (or is down when the command is given: nothing is queued while down, so
//   nothing stale is sent after a reconnect).
// - A command waiting longer than `timeout` for its reply closes the
//   connection (a hung Redis is treated like a dead one).
// - After each (re)connect: AUTH (when a password is set) and SELECT db,
//   then up() turns true and on_up runs (the owner loads its scripts).
// - stop(): no callback runs afterwards, no reconnect.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "relay/redis_codec.hpp"

namespace rp::relay {

struct RedisOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    unsigned db = 0;
    std::string password;  // never logged
    bool tls = false;
    bool tls_verify = true;
    std::string ca_file;
    std::chrono::milliseconds timeout{2000};
    std::chrono::milliseconds backoff_initial{100};
    std::chrono::milliseconds backoff_max{5000};
};

class RedisConnection {
  public:
    using Callback = std::function<void(RedisReply)>;

    RedisConnection(boost::asio::any_io_executor executor, RedisOptions options);
    ~RedisConnection();
    RedisConnection(const RedisConnection&) = delete;
    RedisConnection& operator=(const RedisConnection&) = delete;

    void start();
    void stop();

    void command(std::vector<std::string> args, Callback done);
    // Drops the current connection (its commands fail with `why`) and
    // connects again, as after a network failure: for a server that answers
    // but will not serve (a demoted primary's READONLY, LOADING).
    void reconnect(const std::string& why);

    bool up() const;
    // Why it is not up ("" when up): for logs, /readyz.
    std::string problem() const;
    // Runs on the executor after each successful (re)connect, and on each
    // loss of a connection that was up.
    void on_up(std::function<void()> f);
    void on_down(std::function<void()> f);
    std::string describe() const;  // "redis://host:port/db" (no password)

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rp::relay
