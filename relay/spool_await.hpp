// Awaitable wrappers around the spool's callback APIs: the callbacks run on a
// spool thread (or inline in MemorySpool); these post the result back to the
// awaiting coroutine's executor, so the engine stays single-threaded.
// Used by relay/ coroutines only (pulls in Asio).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "relay/spool.hpp"

namespace rp::relay {

// The errors are values: co_await gives a std::tuple, never throws.
using TupleAwaitable = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>;

// Spool::update_state_async: co_await gives std::tuple<std::error_code>.
inline auto async_update_state(Spool& spool, const std::string& id, DeliveryState state) {
    TupleAwaitable token;
    return boost::asio::async_initiate<TupleAwaitable, void(std::error_code)>(
        [&spool, &id](auto handler, DeliveryState st) {
            auto ex = boost::asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
            spool.update_state_async(id, std::move(st), [h, ex, work](std::error_code ec) {
                boost::asio::post(ex, [h, ec]() mutable { std::move (*h)(ec); });
            });
        },
        token, std::move(state));
}

// SpoolWriter::commit: co_await gives std::tuple<std::error_code, std::string>.
inline auto async_commit(SpoolWriter& writer) {
    TupleAwaitable token;
    return boost::asio::async_initiate<TupleAwaitable, void(std::error_code, std::string)>(
        [&writer](auto handler) {
            auto ex = boost::asio::get_associated_executor(handler);
            auto h = std::make_shared<decltype(handler)>(std::move(handler));
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
            writer.commit([h, ex, work](std::error_code ec, std::string id) {
                boost::asio::post(
                    ex, [h, ec, id = std::move(id)]() mutable { std::move (*h)(ec, std::move(id)); });
            });
        },
        token);
}

}  // namespace rp::relay
