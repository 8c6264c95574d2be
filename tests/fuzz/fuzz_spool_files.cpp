// Fuzzes what spool recovery reads from disk: the message-file header and the
// state file decoders (spool/spool_format). Each input is decoded as it is and
// again with its END checksum made right (else the fuzzer never gets past the
// checksum to the records). Properties: no crash; what decodes re-encodes to
// bytes that decode to the same encoding (the round trip update_state and
// recovery rely on), and check_message_file agrees with the sizes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spool/spool_format.hpp"
#include "spool_checksum.hpp"

using namespace rp::spool;

static void require(bool ok) {
    if (!ok) std::abort();
}

static void message(std::string_view in) {
    const format::HeaderParse p = format::decode_message_header(in);
    if (p.status != format::ParseStatus::ok) return;
    require(p.header.header_size <= in.size() && format::valid_id(p.header.id));
    require(
        format::check_message_file(p.header, p.header.id, p.header.header_size + p.header.body_size).empty());
    format::EncodedHeader e = format::encode_message_header(p.header.id, p.header.envelope);
    e.bytes.replace(e.length_offset, format::body_length_digits,
                    format::encode_body_length(p.header.body_size));
    const format::HeaderParse again = format::decode_message_header(e.bytes);
    require(again.status == format::ParseStatus::ok && again.header.header_size == e.bytes.size());
    require(again.header.body_size == p.header.body_size && again.header.id == p.header.id);
    format::EncodedHeader e2 = format::encode_message_header(again.header.id, again.header.envelope);
    e2.bytes.replace(e2.length_offset, format::body_length_digits,
                     format::encode_body_length(p.header.body_size));
    require(e2.bytes == e.bytes);
}

static void state(std::string_view in) {
    for (std::size_t n = 0; n < 4; ++n) {
        const format::StateParse p = format::decode_state(in, n);
        if (!p.ok) continue;
        require(p.state.recipients.size() == n);
        const std::string bytes = format::encode_state(p.state);
        const format::StateParse again = format::decode_state(bytes, n);
        require(again.ok && format::encode_state(again.state) == bytes);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::string fixed = with_checksum(in);
    for (std::string_view v : {in, std::string_view(fixed)}) {
        message(v);
        state(v);
    }
    return 0;
}
