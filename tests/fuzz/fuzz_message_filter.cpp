// Fuzzes the outgoing-message transforms with properties, not just crashes:
// - MessageFilter gives the same output whatever the split of its input;
// - with no options it is an exact copy;
// - dot-stuffing round-trips through the server's DataReader, with every
//   bare CR / bare LF sent as CRLF (the stuffer's output is CRLF-only).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/data_reader.hpp"
#include "protocol/message_filter.hpp"

using namespace rp::protocol;

static void check(bool ok) {
    if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    MessageFilterOptions opt;
    opt.strip_headers = {"Received", "x-a"};
    opt.rewrite_from_to = "acct@example.com";
    opt.max_header_bytes = 512;
    const std::string whole = filter_message(in, opt);
    const std::size_t a = size ? data[0] % (size + 1) : 0;
    const std::size_t b = a + (size > a ? data[size - 1] % (size - a + 1) : 0);
    MessageFilter split(opt);
    std::string out;
    split.feed(in.substr(0, a), out);
    split.feed(in.substr(a, b - a), out);
    split.feed(in.substr(b), out);
    split.finish(out);
    check(out == whole);
    check(filter_message(in, MessageFilterOptions{}) == in);

    std::string normalized;  // every CR, LF or CRLF as one CRLF
    for (std::size_t i = 0; i < size; ++i) {
        if (in[i] != '\r' && in[i] != '\n') {
            normalized.push_back(in[i]);
            continue;
        }
        normalized.append("\r\n");
        if (in[i] == '\r' && i + 1 < size && in[i + 1] == '\n') ++i;
    }
    DotStuffer stuffer;
    std::string stuffed;
    stuffer.feed(in.substr(0, a), stuffed);
    stuffer.feed(in.substr(a), stuffed);
    stuffer.finish(stuffed);
    DataReader reader;
    std::string content;
    const std::size_t used = reader.feed(stuffed, content);
    check(reader.done() && used == stuffed.size());
    const bool ends_crlf = normalized.ends_with("\r\n");
    check(content == (normalized.empty() || ends_crlf ? normalized : normalized + "\r\n"));
    return 0;
}
