// The submission server as app/ sees it: every configured listener, their
// connection limits, TLS context and client AUTH, driving one
// protocol::ServerSession per connection on the caller's io_context (one
// thread; no thread per connection). Messages go to the spool only through
// spool::SpoolIntake.
//
// Lifecycle (all calls on the io_context's thread):
//   Server s(io, config, metrics, intake);
//   if (auto err = s.start(); !err.empty()) ...   // TLS context + bind all
//   s.reload(new_config);                           // SIGHUP
//   s.shutdown(grace, on_done);                     // SIGTERM
// reload() swaps the TLS context, limits, users, trusted networks and
// session options for NEW connections; sessions already open keep what they
// started with. Listener addresses are bound at start() and not re-bound.
// No Asio header here (io_context is forward-declared). Used by app/.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace boost::asio {
class io_context;
}
namespace rp::metrics {
class Metrics;
}
namespace rp::spool {
class SpoolIntake;
}

namespace rp::server {

class Server {
  public:
    Server(boost::asio::io_context& io, const config::Config& config, metrics::Metrics& metrics,
           spool::SpoolIntake& intake);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Builds the TLS context and binds every listener. "" or an error text
    // (then nothing is listening).
    std::string start();

    // "" when the new settings apply to new connections; otherwise the error
    // (e.g. the new certificate does not load) and the old settings stay.
    std::string reload(const config::Config& config);

    // Stops accepting, answers idle sessions `421 4.3.2` and closes them, lets
    // sessions in the middle of a message finish for up to `grace`, then
    // closes the rest. `done` runs on the io_context when no session is left.
    void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

    bool listening() const;
    std::size_t sessions() const;
    // Bound ports in listener order (after start; useful with port 0).
    std::vector<std::uint16_t> ports() const;

    struct Core;  // server.cpp / connection.cpp

  private:
    std::shared_ptr<Core> core_;
};

}  // namespace rp::server
