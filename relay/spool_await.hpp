// Awaitable forms of the spool's callback APIs, through the one
// callback-to-awaitable bridge (common/await_callback.hpp): the callbacks run
// on a spool thread (or inline in MemorySpool) and the result is posted back
// to the awaiting coroutine's executor, so the engine stays single-threaded.
// Used by relay/ coroutines only (pulls in Asio).
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include "common/await_callback.hpp"
#include "spool/spool.hpp"

namespace rp::relay {

// Spool::update_state_async: co_await gives the write's error (empty = durable).
inline boost::asio::awaitable<std::error_code> async_update_state(spool::Spool& spool, const std::string& id,
                                                                  spool::DeliveryState state) {
    return await_callback<std::error_code>([&spool, &id, st = std::move(state)](auto done) mutable {
        spool.update_state_async(id, std::move(st), std::move(done));
    });
}

// Spool::load_async: the envelope and state, read off the event loop.
inline boost::asio::awaitable<spool::SpoolResult<spool::QueuedMessage>> async_load(spool::Spool& spool,
                                                                                   const std::string& id) {
    return await_callback<spool::SpoolResult<spool::QueuedMessage>>(
        [&spool, &id](auto done) { spool.load_async(id, std::move(done)); });
}

// Spool::remove_async: the unlinks off the event loop; co_await gives the error.
inline boost::asio::awaitable<std::error_code> async_remove(spool::Spool& spool, const std::string& id) {
    return await_callback<std::error_code>(
        [&spool, &id](auto done) { spool.remove_async(id, std::move(done)); });
}

// SpoolWriter::commit: co_await gives {error, id}.
inline boost::asio::awaitable<std::pair<std::error_code, std::string>> async_commit(
    spool::SpoolWriter& writer) {
    using Result = std::pair<std::error_code, std::string>;
    return await_callback<Result>([&writer](auto done) {
        writer.commit([done](std::error_code ec, std::string id) mutable {
            done(Result{ec, std::move(id)});
        });
    });
}

}  // namespace rp::relay
