// DSN size with RET=FULL: the whole message comes back only when it is at
// most 1 MiB; a larger one comes back as headers only (text/rfc822-headers)
// and the human-readable part says why, so a DSN never holds a 35 MB message
// in memory nor exceeds the upstream's size limit (a refused DSN from <> is
// lost). Table-driven over sizes around the limit.
#include <doctest/doctest.h>

#include "delivery_test_util.hpp"

using namespace engine_test;

namespace {

constexpr std::size_t kLimit = 1024 * 1024;

// A message of exactly `size` bytes whose body ends in a marker line.
std::string message_of(std::size_t size) {
    const std::string head = "Subject: big\r\nX-Test: size\r\n\r\n";
    const std::string tail = "END-OF-BODY-MARKER\r\n";
    std::string m = head;
    while (m.size() + tail.size() < size) {
        const std::size_t n = std::min<std::size_t>(76, size - tail.size() - m.size());
        m.append(n >= 2 ? std::string(n - 2, 'x') + "\r\n" : std::string(n, 'x'));
    }
    return m + tail;
}

}  // namespace

TEST_CASE("RET=FULL returns the whole message only up to 1 MiB; beyond, headers only and a note") {
    struct Row {
        std::size_t size;
        std::string ret;
        bool full_expected;
    };
    // The stored size includes nothing the test adds: MemorySpool stores the
    // submitted bytes as they are.
    const std::vector<Row> rows = {
        {1000, "FULL", true},        {kLimit, "FULL", true},      {kLimit + 1, "FULL", false},
        {3 * kLimit, "FULL", false}, {3 * kLimit, "HDRS", false}, {1000, "", false},
    };
    for (const auto& row : rows) {
        CAPTURE(row.size);
        CAPTURE(row.ret);
        Rig rig;
        rig.transport.script = [](const relay::DeliveryRequest& r) {
            if (r.mail_from.empty()) return delivered(r);
            return all(r, reply(Stage::rcpt, 550, "5.1.1", "no such user"));
        };
        rig.start();
        const std::string body = message_of(row.size);
        REQUIRE(body.size() == row.size);
        rig.submit("app@client.example", {"gone@dest.example"}, body, "", row.ret);
        REQUIRE(rig.dsns.queued.size() == 1);
        const std::string& dsn = rig.dsns.queued[0].text;
        CHECK(dsn.find("X-Test: size") != std::string::npos);  // the headers are always there
        const bool has_body = dsn.find("END-OF-BODY-MARKER") != std::string::npos;
        CHECK(has_body == row.full_expected);
        CHECK((dsn.find("Content-Type: message/rfc822") != std::string::npos) == row.full_expected);
        CHECK((dsn.find("Content-Type: text/rfc822-headers") != std::string::npos) == !row.full_expected);
        std::string flat = dsn;  // the human-readable part is wrapped: unwrap it
        for (std::size_t p = flat.find("\r\n"); p != std::string::npos; p = flat.find("\r\n", p))
            flat.replace(p, 2, " ");
        const bool noted = flat.find("is too large to return in full") != std::string::npos;
        CHECK(noted == (row.ret == "FULL" && !row.full_expected));
        if (!row.full_expected) CHECK(dsn.size() < 64 * 1024);
    }
}
