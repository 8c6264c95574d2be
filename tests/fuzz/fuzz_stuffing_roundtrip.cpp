// Differential fuzzing of the outgoing message path: MessageFilter then
// DotStuffer, checked against the server's DataReader as the reference
// unstuffer (stuff then unstuff is the identity; no bare CR or LF reaches
// the upstream). The property lives in stuffing_roundtrip.hpp, shared with
// the doctest property test tests/protocol/stuffing_roundtrip_test.cpp.
// First byte: filter options and piece sizes; the rest: the message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/stuffing_roundtrip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::string why = rp::fuzz::check_stuffing_roundtrip(msg, data[0]);
    if (!why.empty()) {
        std::fprintf(stderr, "stuffing round trip: %s\n", why.c_str());
        std::abort();
    }
    return 0;
}
