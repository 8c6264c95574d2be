// Awaitable forms of the spool's callback APIs (through the one bridge,
// relay/await_callback.hpp). Used by relay/ coroutines only (pulls in Asio).
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include "relay/await_callback.hpp"
#include "spool/spool.hpp"

namespace rp::relay {

// Spool::update_state_async: co_await gives std::tuple<std::error_code>.
inline auto async_update_state(spool::Spool& spool, const std::string& id, spool::DeliveryState state) {
    return await_callback<std::error_code>([&spool, &id, st = std::move(state)](auto done) mutable {
        spool.update_state_async(id, std::move(st), std::move(done));
    });
}

// SpoolWriter::commit: co_await gives std::tuple<std::error_code, std::string>.
inline auto async_commit(spool::SpoolWriter& writer) {
    return await_callback<std::error_code, std::string>(
        [&writer](auto done) { writer.commit(std::move(done)); });
}

}  // namespace rp::relay
