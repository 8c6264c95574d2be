// Admin API routing as a table: every route, wrong methods (405 with Allow),
// unknown paths (404), url-decoding of arguments and their validation (400).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "app/admin_route.hpp"

using rp::app::admin::Action;
using rp::app::admin::route;

TEST_CASE("admin route: each method and path maps to one action and argument") {
    struct Row {
        const char* method;
        const char* path;
        Action action;
        const char* argument;
    };
    const std::vector<Row> rows = {
        {"GET", "/api/v1/queue", Action::queue_list, ""},
        {"GET", "/api/v1/queue/", Action::queue_list, ""},
        {"GET", "/api/v1/queue/00000000000000ab", Action::queue_show, "00000000000000ab"},
        {"DELETE", "/api/v1/queue/00000000000000ab", Action::queue_delete, "00000000000000ab"},
        {"POST", "/api/v1/queue/00000000000000ab/retry", Action::queue_retry, "00000000000000ab"},
        {"POST", "/api/v1/queue/retry", Action::queue_retry_all, ""},
        {"GET", "/api/v1/pool", Action::pool_status, ""},
        {"POST", "/api/v1/pool/relay01@gmail.com/pause", Action::pool_pause, "relay01@gmail.com"},
        {"POST", "/api/v1/pool/relay01%40gmail.com/resume", Action::pool_resume, "relay01@gmail.com"},
        {"POST", "/api/v1/pool/a%2Fb/pause", Action::pool_pause, "a/b"},
        {"POST", "/api/v1/pool/%C3%BCser@example.org/pause", Action::pool_pause, "\xC3\xBCser@example.org"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.method);
        CAPTURE(r.path);
        auto got = route(r.method, r.path);
        REQUIRE(got.action.has_value());
        CHECK(*got.action == r.action);
        CHECK(got.argument == r.argument);
    }
}

TEST_CASE("admin route: refusals carry the status, a reason and for 405 the allowed methods") {
    struct Row {
        const char* method;
        std::string path;
        int status;
        const char* allow;
    };
    const std::vector<Row> rows = {
        {"GET", "/api/v1/", 404, ""},
        {"GET", "/api/v1", 404, ""},
        {"GET", "/api/v2/queue", 404, ""},
        {"GET", "/metrics", 404, ""},
        {"GET", "/api/v1/queues", 404, ""},
        {"GET", "/api/v1/queue//retry", 404, ""},
        {"GET", "/api/v1/queue/abc/retry/now", 404, ""},
        {"GET", "/api/v1/pool/name", 404, ""},
        {"POST", "/api/v1/pool/name/stop", 404, ""},
        {"POST", "/api/v1/queue", 405, "GET"},
        {"PUT", "/api/v1/queue/00000000000000ab", 405, "GET, DELETE"},
        {"GET", "/api/v1/queue/00000000000000ab/retry", 405, "POST"},
        {"DELETE", "/api/v1/pool", 405, "GET"},
        {"GET", "/api/v1/pool/relay01@gmail.com/pause", 405, "POST"},
        {"HEAD", "/api/v1/pool", 405, "GET"},
        {"GET", "/api/v1/queue/..", 400, ""},
        {"GET", "/api/v1/queue/%2E%2E%2Fetc", 400, ""},
        {"GET", "/api/v1/queue/abc%2", 400, ""},
        {"GET", "/api/v1/queue/abc%zz", 400, ""},
        {"DELETE", "/api/v1/queue/" + std::string(65, 'a'), 400, ""},
        {"POST", "/api/v1/pool/" + std::string(321, 'a') + "/pause", 400, ""},
        {"POST", "/api/v1/pool/a%20b/pause", 400, ""},
        {"POST", "/api/v1/pool/a%00b/pause", 400, ""},
        {"POST", "/api/v1/pool/a%0D%0Ab/pause", 400, ""},
    };
    for (const auto& r : rows) {
        CAPTURE(r.method);
        CAPTURE(r.path);
        auto got = route(r.method, r.path);
        CHECK_FALSE(got.action.has_value());
        CHECK(got.status == r.status);
        CHECK_FALSE(got.error.empty());
        CHECK(got.allow == r.allow);
    }
}

TEST_CASE("url_decode / url_encode") {
    using rp::app::admin::url_decode;
    using rp::app::admin::url_encode;
    CHECK(url_decode("plain") == "plain");
    CHECK(url_decode("a%40b%2fc") == "a@b/c");
    CHECK(url_decode("%41%4a") == "AJ");
    CHECK(url_decode("+") == "+");  // a path, not a form: '+' stays
    CHECK_FALSE(url_decode("%").has_value());
    CHECK_FALSE(url_decode("%4").has_value());
    CHECK_FALSE(url_decode("%G1").has_value());
    CHECK_FALSE(url_decode("%00").has_value());
    CHECK(url_encode("relay01@gmail.com") == "relay01@gmail.com");
    CHECK(url_encode("a/b c%") == "a%2Fb%20c%25");
    CHECK(url_encode("\xC3\xBC") == "%C3%BC");
    for (std::string s : {"x/y?z#w", "a b", "100%", "\xC3\xBC@\x01"}) CHECK(url_decode(url_encode(s)) == s);
}

TEST_CASE("admin route: the size limits of ids and names are inclusive") {
    auto id = route("GET", "/api/v1/queue/" + std::string(64, 'f'));
    CHECK(id.action == Action::queue_show);
    auto name = route("POST", "/api/v1/pool/" + std::string(320, 'n') + "/pause");
    CHECK(name.action == Action::pool_pause);
}

TEST_CASE("parse_page_query: limit and after, defaults, bounds, malformed values") {
    using rp::app::admin::parse_page_query;
    struct Row {
        const char* query;
        std::size_t limit;  // when accepted
        const char* after;
        bool accepted;
    };
    const std::vector<Row> rows = {
        {"", 100, "", true},
        {"limit=1", 1, "", true},
        {"limit=1000", 1000, "", true},
        {"limit=25&after=0001a2b3c4d5e6f7", 25, "0001a2b3c4d5e6f7", true},
        {"after=0001a2b3c4d5e6f7&limit=7", 7, "0001a2b3c4d5e6f7", true},
        {"json=1&limit=3&x", 3, "", true},  // unknown keys ignored
        {"after=%30%31", 100, "01", true},  // percent-decoded
        {"limit=0", 0, "", false},
        {"limit=1001", 0, "", false},
        {"limit=-1", 0, "", false},
        {"limit=1e3", 0, "", false},
        {"limit=", 0, "", false},
        {"limit=99999999999999999999", 0, "", false},
        {"after=", 0, "", false},
        {"after=a%2Fb", 0, "", false},
        {"after=%zz", 0, "", false},
        {"after=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "",
         false},  // 65: too long
    };
    for (const auto& r : rows) {
        CAPTURE(r.query);
        auto q = parse_page_query(r.query, 100, 1000);
        CHECK(q.error.empty() == r.accepted);
        if (!r.accepted) continue;
        CHECK(q.limit == r.limit);
        CHECK(q.after == r.after);
    }
}
