// The one callback-to-awaitable bridge of relay/. Spool and pool-store
// callbacks run on their own threads (or inline in the memory twins); this
// posts the result back to the awaiting coroutine's executor, so the engine
// stays single-threaded, and gives it as a std::tuple (errors are values,
// nothing throws).
//
//   auto [ec] = co_await await_callback<std::error_code>(
//       [&](auto done) { store.append(lines, std::move(done)); });
//
// `start` is called once, inline, with `done` (a std::function<void(Args...)>)
// which must be called exactly once, from any thread.
// Used by relay/ coroutines only (pulls in Asio).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <memory>
#include <tuple>
#include <utility>

namespace rp::relay {

template <class... Args, class Start>
auto await_callback(Start&& start) {
    using Token = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;
    Token token;
    return boost::asio::async_initiate<Token, void(Args...)>(
        [](auto handler, auto start_fn) {
            auto ex = boost::asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
            std::function<void(Args...)> done = [h, ex, work](Args... args) {
                boost::asio::post(ex, [h, values = std::make_tuple(std::move(args)...)]() mutable {
                    std::apply([&](auto&&... v) { std::move (*h)(std::move(v)...); }, std::move(values));
                });
            };
            start_fn(std::move(done));
        },
        token, std::forward<Start>(start));
}

}  // namespace rp::relay
