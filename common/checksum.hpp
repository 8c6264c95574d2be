// The one checksum of relaypool's on-disk records: 64-bit FNV-1a. Not a
// cryptographic hash: it recognises torn or damaged records (spool END
// records, pool.state lines), nothing more. Header-only, standard library.
#pragma once

#include <cstdint>
#include <string_view>

namespace rp {

inline std::uint64_t fnv1a64(std::string_view data) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : data) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace rp
