// What fuzz_spool_files found in the spool's decoders, as table tests (the
// crashers themselves are replayed from tests/fuzz/regressions/): a record
// time that would overflow WallTime, and a header whose id is not an id, are
// rejected as corrupt (recovery quarantines them).
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "common/checksum.hpp"
#include "spool/spool_format.hpp"

using namespace rp::spool;

namespace {

// A state file for one recipient with `next` as given and a valid checksum.
std::string state_with_next(const std::string& next) {
    DeliveryState s = DeliveryState::fresh(1);
    std::string text = format::encode_state(s);
    const std::string from = "next 0\n";
    text.replace(text.find(from), from.size(), "next " + next + "\n");
    text.erase(text.rfind("end "));
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(rp::fnv1a64(text)));
    return text + "end " + sum + "\n";
}

}  // namespace

TEST_CASE("spool format: a record time beyond 2^42 ms (year 2109) or negative is rejected") {
    CHECK(format::decode_state(state_with_next("1764098800000"), 1).ok);
    CHECK(format::decode_state(state_with_next("4398046511104"), 1).ok);  // 2^42
    CHECK_FALSE(format::decode_state(state_with_next("4398046511105"), 1).ok);
    CHECK_FALSE(format::decode_state(state_with_next("17620457100000"), 1).ok);  // the fuzzer's
    CHECK_FALSE(format::decode_state(state_with_next("9223372036854775807"), 1).ok);
    CHECK_FALSE(format::decode_state(state_with_next("-1"), 1).ok);
}

TEST_CASE("spool format: a message header whose id record is not 16 hex digits is rejected") {
    StoredEnvelope env;
    env.spec.mail_from = "a@example.com";
    env.spec.recipients.push_back({"b@example.org", "", ""});
    for (const char* id : {"00062a3b1c4d5e6f",
                           "00062a3b1c4d\xe5"
                           "6f",
                           "00062a3b1c4dZe6f", "0006"}) {
        format::EncodedHeader e = format::encode_message_header(id, env);
        e.bytes.replace(e.length_offset, format::body_length_digits, format::encode_body_length(0));
        const format::HeaderParse p = format::decode_message_header(e.bytes);
        CHECK((p.status == format::ParseStatus::ok) == format::valid_id(id));
        if (p.status != format::ParseStatus::ok) CHECK(p.reason == "malformed id record");
    }
}
