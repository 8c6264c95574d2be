// Fuzzes what relaypool reads from pool.state at start: the sealed-line
// parser and Pool::restore. Whatever the file holds: no crash, a parse that
// is ok/torn/unreadable, and a restored pool whose snapshot parses back as
// ok and restores to the same usage (the round trip the keeper relies on).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pool/pool.hpp"
#include "pool/state_file.hpp"

using namespace rp;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const WallTime now{std::chrono::hours(24 * 20000)};
    config::Account a;
    a.username = "a@x";
    pool::Pool first({a}, pool::Options{});
    const pool::ParsedState parsed =
        pool::parse_state(std::string_view(reinterpret_cast<const char*>(data), size));
    if (parsed.status == pool::ParsedState::Status::unreadable) return 0;
    first.restore(parsed, now);
    const std::string snapshot = first.snapshot(now);
    const pool::ParsedState again = pool::parse_state(snapshot);
    require(again.status == pool::ParsedState::Status::ok);
    pool::Pool second({a}, pool::Options{});
    second.restore(again, now);
    const auto s1 = first.status(now), s2 = second.status(now);
    require(s1.size() == s2.size());
    for (std::size_t i = 0; i < s1.size(); ++i) require(s1[i].day.messages == s2[i].day.messages);
    return 0;
}
