// Shared by the spool fuzz targets: an input with its END checksum made right
// (what a real writer would have put there), else the fuzzer never gets past
// the checksum to the records behind it.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/checksum.hpp"

// The input with its first "end " line's last field replaced by the checksum
// of the bytes before that line; unchanged when it has no such line.
inline std::string with_checksum(std::string_view in) {
    std::size_t pos = 0;
    while (pos < in.size() && in.substr(pos, 4) != "end ") {
        const std::size_t nl = in.find('\n', pos);
        if (nl == std::string_view::npos) return std::string(in);
        pos = nl + 1;
    }
    const std::size_t nl = std::min(in.find('\n', pos), in.size());
    const std::string_view line = in.substr(pos, nl - pos);
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx",
                  static_cast<unsigned long long>(rp::fnv1a64(in.substr(0, pos))));
    return std::string(in.substr(0, pos)) + std::string(line.substr(0, line.rfind(' ') + 1)) + sum +
           std::string(in.substr(nl));
}
