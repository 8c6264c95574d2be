// The one callback-to-awaitable bridge: lets a coroutine `co_await` an
// operation that reports its result through a plain callback, possibly from
// another thread (password hashing workers, the spool's commit threads, an
// admin handler that answers later).
//
//   T value = co_await rp::await_callback<T>([&](std::function<void(T)> done) {
//       start_something(..., [done](T result) { done(std::move(result)); });
//   });
//
// Invariants: the coroutine resumes on its own executor (the result is
// posted there), exactly once: a second call of `done` is ignored; while
// the operation runs the executor counts outstanding work (io_context::run
// does not return under it). `done` must be called at least once, or the
// coroutine never resumes (and its frame leaks).
// Header-only; include only from Asio-using .cpp files (it pulls in Asio).
// A plain function, not a coroutine: GCC 12 mishandles captured strings in
// nested coroutine frames, and this saves a frame per call.
// Used by server/connection_actions.cpp, metrics/http_server.cpp and relay/
// (spool_await.hpp, pool_keeper.cpp).
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace rp {

// `start` receives a std::function<void(T)>-compatible callback.
template <typename T, typename Start>
boost::asio::awaitable<T> await_callback(Start start) {
    namespace net = boost::asio;
    auto initiation = [](auto handler, Start start) {
        using Handler = decltype(handler);
        auto ex =
            net::prefer(net::get_associated_executor(handler), net::execution::outstanding_work.tracked);
        auto slot = std::make_shared<std::optional<Handler>>(std::move(handler));
        start([slot, ex](T value) {
            net::post(ex, [slot, value = std::move(value)]() mutable {
                if (!slot->has_value()) return;
                Handler h = std::move(**slot);
                slot->reset();
                std::move(h)(std::move(value));
            });
        });
    };
    return net::async_initiate<const net::use_awaitable_t<>&, void(T)>(std::move(initiation),
                                                                       net::use_awaitable, std::move(start));
}

}  // namespace rp
