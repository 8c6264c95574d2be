// Pure encode/decode of the spool's on-disk records (docs/spool.md): the
// message file header and the per-message state file. No I/O here, so every
// corrupt-input case is a table test (tests/spool/spool_format_test.cpp).
//
// Invariants: decode(encode(x)) == x for every envelope/state, including
// values with arbitrary bytes (escaped as %XX); decoders are strict (version,
// every record, order-free but no duplicates or unknown keys, checksum) and
// say why they reject. Used by FileSpool and the tests only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/checksum.hpp"
#include "spool/spool.hpp"

namespace rp::spool::format {

inline constexpr std::string_view message_magic = "RELAYPOOL-MESSAGE 1";
inline constexpr std::string_view state_magic = "RELAYPOOL-STATE 1";
// A header larger than this is corrupt (bounds the read at recovery).
inline constexpr std::size_t max_header_size = 16u << 20;
inline constexpr std::size_t body_length_digits = 20;

// Record values: bytes <= 0x20, 0x7f and '%' become %XX (upper-case hex);
// the empty value is "%-". Bytes >= 0x80 (UTF-8) stay as they are.
std::string escape(std::string_view value);
// false on a malformed escape.
bool unescape(std::string_view token, std::string& out);

// 16 lower-case hex digits.
bool valid_id(std::string_view id);
std::string id_from_number(std::uint64_t n);

std::int64_t to_unix_ms(WallTime t);
WallTime from_unix_ms(std::int64_t ms);

// 64-bit FNV-1a, printed as 16 hex digits in END records.
using rp::fnv1a64;  // common/checksum.hpp

// ---- message file: header, then the body bytes ----------------------------
struct EncodedHeader {
    std::string bytes;              // the whole header, END line included
    std::size_t length_offset = 0;  // where END's body-length field starts
};
// The END line's body length is a placeholder ('?' x 20) until commit, so a
// file that was never committed can never pass the check.
EncodedHeader encode_message_header(std::string_view id, const StoredEnvelope& envelope);
std::string encode_body_length(std::uint64_t body_size);  // exactly body_length_digits

struct MessageHeader {
    std::string id;
    StoredEnvelope envelope;
    std::uint64_t header_size = 0;  // = body offset in the file
    std::uint64_t body_size = 0;
};

enum class ParseStatus { ok, need_more, invalid };
struct HeaderParse {
    ParseStatus status = ParseStatus::invalid;
    std::string reason;  // when invalid
    MessageHeader header;
};
// `data` is the start of the file. need_more: no END line yet (read more,
// up to max_header_size).
HeaderParse decode_message_header(std::string_view data);

// "" when a file of `file_size` bytes named `file_id` holds exactly this
// header + body; otherwise why not.
std::string check_message_file(const MessageHeader& header, std::string_view file_id,
                               std::uint64_t file_size);

// ---- state file -----------------------------------------------------------
// history is trimmed to the newest DeliveryState::max_history entries.
std::string encode_state(const DeliveryState& state);
struct StateParse {
    bool ok = false;
    std::string reason;
    DeliveryState state;
};
StateParse decode_state(std::string_view data, std::size_t expected_recipients);

}  // namespace rp::spool::format
