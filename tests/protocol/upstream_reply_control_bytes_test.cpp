// Found by fuzz_delivery_outcome: an upstream reply line may carry a bare CR,
// NUL or other control bytes (only CRLF / LF end a line). The parser keeps
// the reply but stores those bytes as '?', so the text that reaches
// describe(), the state file, the admin API, logs and DSNs holds no line end.
#include <doctest/doctest.h>

#include <string>

#include "protocol/upstream_reply.hpp"

using namespace rp::protocol;

TEST_CASE("upstream reply: control bytes in a reply line are stored as '?', HT kept") {
    UpstreamReplyParser parser;
    parser.feed(std::string("250-2.0.0 OK \0x\rInjected: y\r\n250 a\tb\x7f\x01\r\n", 40));
    UpstreamReply reply;
    REQUIRE(parser.next(reply) == ReplyParseStatus::reply);
    CHECK(reply.code == 250);
    CHECK(reply.enhanced == "2.0.0");
    REQUIRE(reply.lines.size() == 2);
    CHECK(reply.lines[0] == "OK ?x?Injected: y");
    CHECK(reply.lines[1] == "a\tb??");
    CHECK(reply.text().find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
}
