// Differential fuzzing of the DATA reader: the input fed whole and fed in
// pieces (sizes derived from the first byte) must give identical content,
// end state and consumed count; the content never holds a bare LF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/data_reader.hpp"

using namespace rp::protocol;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned seed = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

    DataReader whole;
    std::string whole_out;
    const std::size_t whole_used = whole.feed(in, whole_out);

    DataReader split;
    std::string split_out;
    std::size_t split_used = 0, step = seed % 7 + 1;
    while (split_used < in.size() && !split.done()) {
        const std::size_t n = std::min(step, in.size() - split_used);
        const std::size_t used = split.feed(in.substr(split_used, n), split_out);
        require(used <= n);
        split_used += used;
        if (used < n) require(split.done());
        step = (step * (seed | 1) + 3) % 13 + 1;
    }
    require(whole_out == split_out);
    require(whole.done() == split.done());
    require(whole_used == split_used);
    require(whole_out.size() <= in.size() + in.size());  // bare LF / CR -> CRLF at most doubles
    // No bare LF and no bare CR is ever stored.
    for (std::size_t i = 0; i < whole_out.size(); ++i) {
        if (whole_out[i] == '\n') require(i > 0 && whole_out[i - 1] == '\r');
        if (whole_out[i] == '\r') require(i + 1 < whole_out.size() && whole_out[i + 1] == '\n');
    }
    // The data ends exactly at the first CRLF.CRLF, counting the CRLF of the
    // DATA command line as the first CRLF; bare CR/LF never end it.
    const std::string framed = "\r\n" + std::string(in);
    const std::size_t end = framed.find("\r\n.\r\n");
    require(whole.done() == (end != std::string::npos));
    if (whole.done()) require(whole_used == end + 5 - 2);
    return 0;
}
