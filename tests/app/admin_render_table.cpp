// Rendering of admin answers: the column renderer, ages, one-line cleaning of
// untrusted text, and each listing from a JSON body in relay.hpp's shapes.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "app/admin_render.hpp"

using namespace rp::app::admin;

namespace {

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

}  // namespace

TEST_CASE("render_table: columns padded to the widest cell, two spaces apart, last column ragged") {
    auto text = render_table({"ID", "STATE", "NOTE"}, {{"a", "deferred", "x"}, {"bbbb", "ok", ""}});
    CHECK(text ==
          "ID    STATE     NOTE\n"
          "a     deferred  x\n"
          "bbbb  ok\n");
}

TEST_CASE("render_table: header only when there are no rows; short rows are filled with -; indent") {
    CHECK(render_table({"NAME", "STATE"}, {}) == "NAME  STATE\n");
    CHECK(render_table({"A", "B", "C"}, {{"1"}}, "  ") == "  A  B  C\n  1  -  -\n");
}

TEST_CASE("render_table: widths count UTF-8 characters, not bytes") {
    auto text = render_table({"N", "X"}, {{"\xC3\xBC\xC3\xBC", "1"}, {"abc", "2"}});
    CHECK(text == "N    X\n\xC3\xBC\xC3\xBC   1\nabc  2\n");
}

TEST_CASE("format_age") {
    struct Row {
        long long seconds;
        const char* text;
    };
    const std::vector<Row> rows = {{0, "0s"},        {59, "59s"},       {60, "1m00s"},   {192, "3m12s"},
                                   {3599, "59m59s"}, {3600, "1h00m"},   {7500, "2h05m"}, {86399, "23h59m"},
                                   {86400, "1d00h"}, {273600, "3d04h"}, {-1, "-"}};
    for (const auto& r : rows) {
        CAPTURE(r.seconds);
        CHECK(format_age(r.seconds) == r.text);
    }
}

TEST_CASE("one_line: control bytes and whitespace runs become one space; empty becomes the placeholder") {
    CHECK(one_line("421 4.7.0 Try again\r\n later") == "421 4.7.0 Try again later");
    CHECK(one_line("\x1b[31mred\x1b[0m") == "[31mred [0m");
    CHECK(one_line("  padded\t") == "padded");
    CHECK(one_line("") == "-");
    CHECK(one_line("\r\n", "<>") == "<>");
    CHECK(one_line("\xC3\xBC\x7f") == "\xC3\xBC");
}

TEST_CASE("render_queue_list: header, then one line per message, id first") {
    const char* body = R"J({"messages":[
        {"id":"00000000000000a1","age_seconds":192,"state":"deferred","attempts":2,
         "sender":"app@example.com","recipients":["a@example.org","b@example.org"],
         "last_error":"421 4.7.0 Try again later\r\n (MAIL)","next_attempt_in_seconds":30},
        {"id":"00000000000000a2","age_seconds":5,"state":"ready","attempts":0,
         "sender":"","recipients":["a@x","b@x","c@x","d@x","e@x"],"last_error":""}]
})J";
    auto text = render_queue_list(body);
    REQUIRE(text.has_value());
    auto l = lines(*text);
    REQUIRE(l.size() == 3);
    CHECK(l[0] ==
          "ID                AGE    STATE     ATTEMPTS  SENDER             RECIPIENTS                   "
          "LAST-ERROR");
    CHECK(l[1] ==
          "00000000000000a1  3m12s  deferred  2         <app@example.com>  a@example.org,b@example.org  "
          "421 4.7.0 Try again later (MAIL)");
    CHECK(l[2] ==
          "00000000000000a2  5s     ready     0         <>                 a@x,b@x,c@x,+2 more          -");
}

TEST_CASE("render_queue_list: an empty queue is the header alone; a wrong shape is nullopt") {
    auto empty = render_queue_list(R"J({"messages":[]})J");
    REQUIRE(empty.has_value());
    CHECK(lines(*empty).size() == 1);
    CHECK(empty->starts_with("ID  AGE"));
    CHECK_FALSE(render_queue_list("").has_value());
    CHECK_FALSE(render_queue_list("not json").has_value());
    CHECK_FALSE(render_queue_list("[]").has_value());
    CHECK_FALSE(render_queue_list(R"J({"accounts":[]})J").has_value());
    CHECK_FALSE(render_queue_list(R"J({"messages":{}})J").has_value());
}

TEST_CASE("queue list pages: the next cursor, and pages joined into one listing in order") {
    const std::string p1 = R"J({"messages":[{"id":"01"},{"id":"02"}],"total":3,"next_after":"02"})J";
    const std::string p2 = R"J({"messages":[{"id":"03"}],"total":3})J";
    CHECK(next_page_after(p1) == "02");
    CHECK(next_page_after(p2) == "");
    CHECK_FALSE(next_page_after(R"J({"accounts":[]})J").has_value());
    CHECK_FALSE(next_page_after("garbage").has_value());
    auto joined = join_queue_pages({p1, p2});
    REQUIRE(joined.has_value());
    CHECK(*joined == R"J({"messages":[{"id":"01"},{"id":"02"},{"id":"03"}],"total":3})J");
    auto table = render_queue_list(*joined);
    REQUIRE(table.has_value());
    CHECK(lines(*table).size() == 4);
    CHECK_FALSE(join_queue_pages({p1, "[]"}).has_value());
    CHECK(join_queue_pages({}) == R"J({"messages":[],"total":0})J");
}

TEST_CASE("render_pool_status: usage as SENT/LIMIT, empty cooldown and error as -, warm-up day, reason") {
    const char* body = R"J({"accounts":[
        {"name":"relay01@gmail.com","state":"active","sent_24h":12,"limit":2000,"cooldown_until":"","last_error":""},
        {"name":"relay02@gmail.com","state":"cooling","sent_24h":1999,"limit":2000,
         "cooldown_until":"2026-11-25T20:15:00Z","last_error":"454 4.7.0 Too many login attempts"},
        {"name":"relay03@gmail.com","state":"paused","sent_24h":3,"limit":100,"warmup_day":2,
         "cooldown_until":"","last_error":"","reason":"paused by operator"}]})J";
    auto text = render_pool_status(body);
    REQUIRE(text.has_value());
    auto l = lines(*text);
    REQUIRE(l.size() == 4);
    CHECK(l[0] == "NAME               STATE    SENT/LIMIT  COOLDOWN-UNTIL        WARMUP  LAST-ERROR");
    CHECK(l[1] == "relay01@gmail.com  active   12/2000     -                     -       -");
    CHECK(l[2] ==
          "relay02@gmail.com  cooling  1999/2000   2026-11-25T20:15:00Z  -       454 4.7.0 Too many login "
          "attempts");
    CHECK(l[3] == "relay03@gmail.com  paused   3/100       -                     day 2   paused by operator");
    CHECK_FALSE(render_pool_status(R"J({"messages":[]})J").has_value());
}

TEST_CASE("render_queue_show: labelled fields, envelope, recipients and history tables") {
    const char* body = R"J({"id":"00000000000000a1","arrival":"2026-11-25T19:00:00Z","age_seconds":3700,
        "state":"deferred","attempts":1,"next_attempt":"2026-11-25T20:05:00Z","last_error":"421 later",
        "envelope":{"mail_from":"app@example.com","ret":"HDRS","envid":"","listener":"submission",
                    "client_addr":"10.0.0.5","auth_user":"demo","size":1234},
        "recipients":[{"address":"a@example.org","status":"deferred","attempts":1,"last_reply":"421 later",
                       "account":"relay01@gmail.com"},
                      {"address":"b@example.org","status":"delivered","attempts":1,"last_reply":"250 ok",
                       "account":"relay01@gmail.com"}],
        "history":[{"at":"2026-11-25T19:00:05Z","account":"relay01@gmail.com","result":"421 later"}]})J";
    auto text = render_queue_show(body);
    REQUIRE(text.has_value());
    CHECK(*text ==
          "id:           00000000000000a1\n"
          "state:        deferred\n"
          "arrival:      2026-11-25T19:00:00Z (age 1h01m)\n"
          "attempts:     1\n"
          "next attempt: 2026-11-25T20:05:00Z\n"
          "last error:   421 later\n"
          "envelope:\n"
          "  mail from:  <app@example.com>\n"
          "  ret:        HDRS\n"
          "  envid:      -\n"
          "  listener:   submission\n"
          "  client:     10.0.0.5\n"
          "  auth user:  demo\n"
          "  size:       1234\n"
          "recipients:\n"
          "  ADDRESS        STATUS     ATTEMPTS  ACCOUNT            LAST-REPLY\n"
          "  a@example.org  deferred   1         relay01@gmail.com  421 later\n"
          "  b@example.org  delivered  1         relay01@gmail.com  250 ok\n"
          "history:\n"
          "  AT                    ACCOUNT            RESULT\n"
          "  2026-11-25T19:00:05Z  relay01@gmail.com  421 later\n");
    CHECK(render_queue_show(R"J({"id":"x","history":[]})J")->ends_with("history: none\n"));
    CHECK_FALSE(render_queue_show(R"J({"error":"no such message"})J").has_value());
}

TEST_CASE("render_change and error_text") {
    CHECK(render_change(R"J({"retried":1})J") == "retried 1 message\n");
    CHECK(render_change(R"J({"retried":7})J") == "retried 7 messages\n");
    CHECK(render_change(R"J({"deleted":"00000000000000a1"})J") == "deleted 00000000000000a1\n");
    CHECK(render_change(R"J({"account":"r@gmail.com","state":"paused"})J") == "r@gmail.com: paused\n");
    CHECK_FALSE(render_change(R"J({"other":1})J").has_value());
    CHECK(error_text(R"J({"error":"no such message"})J") == "no such message");
    CHECK(error_text("{\"error\":\"two\\nlines\"}") == "two lines");
    CHECK_FALSE(error_text("not found\n").has_value());
    CHECK_FALSE(error_text(R"J({"retried":1})J").has_value());
}

TEST_CASE("not_in_queue_text: says delivered mail leaves the queue and names the log field") {
    CHECK(not_in_queue_text("00000000000000a1") ==
          "no such message in the queue: delivered and bounced messages leave the queue; look for "
          "id=00000000000000a1 in the relay's log (e.g. journalctl -u relaypool | grep id=00000000000000a1)");
    // The id is the user's own argument, still printed as one clean line.
    CHECK(not_in_queue_text("a\x1b[2Jb").find('\x1b') == std::string::npos);
}
