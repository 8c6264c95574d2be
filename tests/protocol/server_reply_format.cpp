// Reply values: the one multi-line formatter and the named constructors the
// SPEC fixes exactly.
#include <doctest/doctest.h>

#include "protocol/reply.hpp"

using namespace rp::protocol;

TEST_CASE("reply formatting") {
    struct Case {
        Reply reply;
        std::string wire;
    };
    const std::vector<Case> cases = {
        {Reply::make(250, "2.0.0", "Ok"), "250 2.0.0 Ok\r\n"},
        {Reply{250, "", {"host", "PIPELINING", "SIZE 10"}}, "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n"},
        {Reply{451, "4.3.0", {"a", "b"}}, "451-4.3.0 a\r\n451 4.3.0 b\r\n"},
        {Reply::auth_challenge(""), "334 \r\n"},
        {Reply::auth_challenge("VXNlcm5hbWU6"), "334 VXNlcm5hbWU6\r\n"},
        {Reply::make(501, "5.5.2", "evil\r\n250 ok"), "501 5.5.2 evil  250 ok\r\n"},
        {Reply{221, "2.0.0", {}}, "221 2.0.0 \r\n"},
        {Reply::must_starttls(), "530 5.7.0 Must issue a STARTTLS command first\r\n"},
        {Reply::auth_required(), "530 5.7.0 Authentication required\r\n"},
        {Reply::auth_invalid(), "535 5.7.8 Authentication credentials invalid\r\n"},
        {Reply::too_many_recipients(), "452 4.5.3 Too many recipients\r\n"},
        {Reply::queued("ABC123"), "250 2.0.0 Ok: queued as ABC123\r\n"},
        {Reply::line_too_long(), "500 5.5.2 Line too long\r\n"},
        {Reply::greeting("mx.example"), "220 mx.example ESMTP relaypool\r\n"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.wire);
        CHECK(c.reply.format() == c.wire);
    }
    CHECK(Reply::message_too_big().code == 552);
    CHECK(Reply::message_too_big().enhanced == "5.3.4");
    CHECK(Reply::storage_failed().enhanced == "4.3.1");
    CHECK(Reply::local_error().code == 451);
    CHECK(Reply{451, "4.3.0", {"a", "b"}}.text() == "a b");
}
