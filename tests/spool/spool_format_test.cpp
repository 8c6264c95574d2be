// Table tests of the pure spool record codec (spool/spool_format.*): round
// trips with hostile bytes, and every kind of corrupt header/state rejected
// with a reason.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "spool/spool_format.hpp"

using namespace rp::spool;
namespace fmt_ = rp::spool::format;

namespace {

StoredEnvelope sample_envelope() {
    StoredEnvelope e;
    e.spec.mail_from = "sender with space@example.com";
    e.spec.recipients = {{"a@example.com", "SUCCESS,FAILURE", "rfc822;a@example.com"},
                         {"b%\r\n\x01\x7f@example.com", "", ""},
                         {"\xc3\xa9l\xc3\xa8ve@\xc3\xa9xample.fr", "NEVER", ""}};
    e.spec.ret = "HDRS";
    e.spec.envid = "QQ314159";
    e.spec.smtputf8 = true;
    e.spec.body_8bitmime = true;
    e.spec.listener = "submission";
    e.spec.client_addr = "[2001:db8::1]:4242";
    e.spec.helo = "client.example %-";
    e.spec.auth_user = "";
    e.arrival = fmt_::from_unix_ms(1764097000123);
    return e;
}

// A committed header: placeholder replaced by the real length.
std::string committed_header(const StoredEnvelope& e, std::string_view id, std::uint64_t body) {
    auto h = fmt_::encode_message_header(id, e);
    h.bytes.replace(h.length_offset, fmt_::body_length_digits, fmt_::encode_body_length(body));
    return h.bytes;
}

// A header built from raw record lines with a correct checksum, so record-level
// errors are reached (the checksum is checked first).
std::string raw_header(const std::vector<std::string>& records, std::string length = "00000000000000000005") {
    std::string out = std::string(fmt_::message_magic) + "\n";
    for (const auto& r : records) out += r + "\n";
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(fmt_::fnv1a64(out)));
    return out + "end " + length + " " + sum + "\n";
}

std::vector<std::string> good_records() {
    return {"id 0123456789abcdef", "arrival 5",  "from a@b",   "rcpt x@y %- %-", "ret %-", "envid %-",
            "smtputf8 0",          "8bitmime 0", "listener l", "client c",       "helo h", "auth %-"};
}

std::vector<std::string> with(std::vector<std::string> r, std::size_t i, std::string line) {
    if (line.empty())
        r.erase(r.begin() + static_cast<std::ptrdiff_t>(i));
    else
        r[i] = std::move(line);
    return r;
}

}  // namespace

TEST_CASE("escape/unescape round trip") {
    const std::vector<std::string> values = {
        "",    "plain", "a b", "%", "%-", "\r\n", std::string("\0\x01\x1f\x7f", 4), "\xc3\xa9\xe2\x82\xac",
        "100%"};
    for (const auto& v : values) {
        CAPTURE(v);
        const std::string e = fmt_::escape(v);
        CHECK(e.find_first_of(" \r\n\t") == std::string::npos);
        CHECK_FALSE(e.empty());
        std::string back;
        REQUIRE(fmt_::unescape(e, back));
        CHECK(back == v);
    }
}

TEST_CASE("unescape rejects malformed tokens") {
    for (std::string bad : {"", "%", "%4", "%zz", "a b", "a\x01", "%-x", "x%-"}) {
        CAPTURE(bad);
        std::string out;
        CHECK_FALSE(fmt_::unescape(bad, out));
    }
}

TEST_CASE("ids") {
    CHECK(fmt_::valid_id(fmt_::id_from_number(0)));
    CHECK(fmt_::valid_id(fmt_::id_from_number(~0ull)));
    CHECK(fmt_::id_from_number(0x1234) == "0000000000001234");
    CHECK(fmt_::id_from_number(1) < fmt_::id_from_number(2));
    for (std::string bad : {"", "0123", "0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdef0"})
        CHECK_FALSE(fmt_::valid_id(bad));
}

TEST_CASE("message header round trip") {
    const auto env = sample_envelope();
    const std::string bytes = committed_header(env, "0123456789abcdef", 42);
    auto p = fmt_::decode_message_header(bytes + "body follows, not parsed");
    REQUIRE_MESSAGE(p.status == fmt_::ParseStatus::ok, p.reason);
    const auto& h = p.header;
    CHECK(h.id == "0123456789abcdef");
    CHECK(h.header_size == bytes.size());
    CHECK(h.body_size == 42);
    CHECK(h.envelope.arrival == env.arrival);
    CHECK(h.envelope.spec.mail_from == env.spec.mail_from);
    REQUIRE(h.envelope.spec.recipients.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(h.envelope.spec.recipients[i].address == env.spec.recipients[i].address);
        CHECK(h.envelope.spec.recipients[i].notify == env.spec.recipients[i].notify);
        CHECK(h.envelope.spec.recipients[i].orcpt == env.spec.recipients[i].orcpt);
    }
    CHECK(h.envelope.spec.ret == "HDRS");
    CHECK(h.envelope.spec.envid == "QQ314159");
    CHECK(h.envelope.spec.smtputf8);
    CHECK(h.envelope.spec.body_8bitmime);
    CHECK(h.envelope.spec.listener == "submission");
    CHECK(h.envelope.spec.client_addr == env.spec.client_addr);
    CHECK(h.envelope.spec.helo == env.spec.helo);
    CHECK(h.envelope.spec.auth_user == "");
    CHECK(fmt_::check_message_file(h, "0123456789abcdef", bytes.size() + 42) == "");
}

TEST_CASE("message header: incomplete input asks for more") {
    const std::string bytes = committed_header(sample_envelope(), "0123456789abcdef", 0);
    for (std::size_t n :
         {std::size_t{0}, std::size_t{5}, fmt_::message_magic.size(), bytes.size() / 2, bytes.size() - 1}) {
        CAPTURE(n);
        CHECK(fmt_::decode_message_header(bytes.substr(0, n)).status == fmt_::ParseStatus::need_more);
    }
}

TEST_CASE("message header: corrupt inputs are rejected with a reason") {
    const std::string good = committed_header(sample_envelope(), "0123456789abcdef", 7);
    std::string flipped = good;
    flipped[flipped.find("from ") + 6] ^= 1;
    std::string bad_digit = good;
    bad_digit[good.find("end ") + 4] = 'x';
    const auto uncommitted = fmt_::encode_message_header("0123456789abcdef", sample_envelope()).bytes;

    struct Case {
        std::string name, data, reason;
    };
    const std::vector<Case> cases = {
        {"garbage", "hello world\nthis is not a spool file\n", "not a relaypool message file"},
        {"other version", "RELAYPOOL-MESSAGE 2\nid x\n", "not a relaypool message file"},
        {"never committed", uncommitted, "never committed"},
        {"flipped byte", flipped, "checksum"},
        {"length not digits", bad_digit, "never committed"},
        {"malformed end", std::string(fmt_::message_magic) + "\nend 12\n", "malformed END"},
        {"missing id", raw_header(with(good_records(), 0, "")), "missing record id"},
        {"missing auth", raw_header(with(good_records(), 11, "")), "missing record auth"},
        {"no recipients", raw_header(with(good_records(), 3, "")), "no recipients"},
        {"duplicate from", raw_header(with(good_records(), 5, "from x@y")), "duplicate record from"},
        {"unknown record", raw_header(with(good_records(), 5, "colour blue")), "unknown record colour"},
        {"bad escape", raw_header(with(good_records(), 2, "from a%zz")), "bad escape"},
        {"two values", raw_header(with(good_records(), 2, "from a b")), "expected 1 values"},
        {"rcpt short", raw_header(with(good_records(), 3, "rcpt x@y %-")), "expected 3 values"},
        {"empty rcpt", raw_header(with(good_records(), 3, "rcpt %- %- %-")), "empty recipient"},
        {"bool 2", raw_header(with(good_records(), 6, "smtputf8 2")), "not 0/1"},
        {"arrival text", raw_header(with(good_records(), 1, "arrival soon")), "arrival"},
        {"huge length", raw_header(good_records(), "99999999999999999999"), "out of range"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto p = fmt_::decode_message_header(c.data);
        CHECK(p.status == fmt_::ParseStatus::invalid);
        CHECK_MESSAGE(p.reason.find(c.reason) != std::string::npos, p.reason);
    }
    // The untouched records parse (so each case above failed for its own reason).
    CHECK(fmt_::decode_message_header(raw_header(good_records())).status == fmt_::ParseStatus::ok);
}

TEST_CASE("message file check: id and size") {
    auto p = fmt_::decode_message_header(committed_header(sample_envelope(), "0123456789abcdef", 10));
    REQUIRE(p.status == fmt_::ParseStatus::ok);
    const auto total = p.header.header_size + 10;
    CHECK(fmt_::check_message_file(p.header, "0123456789abcdef", total) == "");
    CHECK(fmt_::check_message_file(p.header, "0123456789abcdee", total).find("id") != std::string::npos);
    CHECK(fmt_::check_message_file(p.header, "0123456789abcdef", total - 1).find("size mismatch") !=
          std::string::npos);
    CHECK(fmt_::check_message_file(p.header, "0123456789abcdef", total + 1).find("size mismatch") !=
          std::string::npos);
}

namespace {

DeliveryState sample_state() {
    DeliveryState s = DeliveryState::fresh(3);
    s.state = MessageState::deferred;
    s.attempts = 4;
    s.next_attempt = fmt_::from_unix_ms(1764097999000);
    s.last_error = "421 4.7.0 Try again later\r\n(multi line)";
    s.recipients[0] = {RecipientStatus::delivered, 1, "250 2.0.0 OK", "acct1@example.com"};
    s.recipients[1] = {RecipientStatus::bounced, 2, "550 5.1.1 no such user", "acct2@example.com"};
    s.recipients[2] = {RecipientStatus::pending, 4, "450 4.2.1 slow down", ""};
    for (int i = 0; i < 25; ++i)
        s.history.push_back(
            {fmt_::from_unix_ms(1000 + i), "acct" + std::to_string(i), "try " + std::to_string(i)});
    return s;
}

}  // namespace

TEST_CASE("state round trip trims history to the newest max_history") {
    const auto s = sample_state();
    auto p = fmt_::decode_state(fmt_::encode_state(s), 3);
    REQUIRE_MESSAGE(p.ok, p.reason);
    CHECK(p.state.state == MessageState::deferred);
    CHECK(p.state.attempts == 4);
    CHECK(p.state.next_attempt == s.next_attempt);
    CHECK(p.state.last_error == s.last_error);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(p.state.recipients[i].status == s.recipients[i].status);
        CHECK(p.state.recipients[i].attempts == s.recipients[i].attempts);
        CHECK(p.state.recipients[i].last_reply == s.recipients[i].last_reply);
        CHECK(p.state.recipients[i].account == s.recipients[i].account);
    }
    REQUIRE(p.state.history.size() == DeliveryState::max_history);
    CHECK(p.state.history.front().account == "acct5");
    CHECK(p.state.history.back().result == "try 24");
    CHECK(p.state.history.back().at == fmt_::from_unix_ms(1024));
}

TEST_CASE("state: corrupt inputs are rejected with a reason") {
    const std::string good = fmt_::encode_state(sample_state());
    std::string flipped = good;
    flipped[flipped.find("attempts ") + 9] = '9';
    // Re-checksummed variants reach the record checks.
    auto resum = [](std::string body) {
        char sum[17];
        std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(fmt_::fnv1a64(body)));
        return body + "end " + sum + "\n";
    };
    const std::string head = std::string(fmt_::state_magic) + "\n";
    const std::string base = "state ready\nattempts 0\nnext 0\nerror %-\n";
    struct Case {
        std::string name, data, reason;
        std::size_t rcpts = 0;
    };
    const std::vector<Case> cases = {
        {"empty", "", "not a relaypool state file"},
        {"truncated", good.substr(0, good.size() - 5), "truncated"},
        {"trailing bytes", good + "x", "bytes after"},
        {"flipped", flipped, "checksum", 3},
        {"wrong count", good, "recipient count", 2},
        {"bad state word", resum(head + "state flying\nattempts 0\nnext 0\nerror %-\n"), "bad state"},
        {"missing next", resum(head + "state ready\nattempts 0\nerror %-\n"), "missing record next"},
        {"bad rcpt status", resum(head + base + "rcpt lost 0 %- %-\n"), "bad rcpt", 1},
        {"bad attempt", resum(head + base + "attempt x %- %-\n"), "bad attempt"},
        {"unknown", resum(head + base + "colour blue\n"), "unknown record"},
        {"duplicate", resum(head + base + "attempts 3\n"), "duplicate record attempts"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto p = fmt_::decode_state(c.data, c.rcpts);
        CHECK_FALSE(p.ok);
        CHECK_MESSAGE(p.reason.find(c.reason) != std::string::npos, p.reason);
    }
    CHECK(fmt_::decode_state(resum(head + base + "rcpt pending 0 %- %-\n"), 1).ok);
}

TEST_CASE("decoders survive every single-byte mutation and truncation of valid records") {
    // Deterministic: each byte position is replaced by a few chosen values;
    // the decoders must answer (ok / need_more / invalid with a reason), and
    // under ASan never read out of bounds.
    const std::string header = committed_header(sample_envelope(), "0123456789abcdef", 3) + "abc";
    const std::string state = fmt_::encode_state(sample_state());
    for (const std::string* input : {&header, &state}) {
        for (std::size_t i = 0; i < input->size(); ++i) {
            for (char c : {'\0', '\n', ' ', '%', 'x', '9', '\xff'}) {
                std::string m = *input;
                if (m[i] == c) continue;
                m[i] = c;
                auto h = fmt_::decode_message_header(m);
                if (h.status == fmt_::ParseStatus::invalid) CHECK_FALSE(h.reason.empty());
                auto s = fmt_::decode_state(m, 3);
                if (!s.ok) CHECK_FALSE(s.reason.empty());
                // A changed byte before the END line can never pass the checksum.
                if (input == &state && i < state.rfind("end ")) CHECK_FALSE(s.ok);
                if (input == &header && i < header.find("\nend ")) CHECK(h.status != fmt_::ParseStatus::ok);
            }
            fmt_::decode_message_header(input->substr(0, i));
            CHECK_FALSE(fmt_::decode_state(input->substr(0, i), 3).ok);
        }
    }
}
