// build_dsn(): the DSN is parsed back structurally (top-level headers, the
// multipart/report boundary, the three parts, the per-message and
// per-recipient blocks of message/delivery-status); should_bounce() and
// rfc5322_date() as tables.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "protocol/dsn.hpp"

using namespace rp::protocol;
using std::chrono::seconds;
using std::chrono::system_clock;

namespace {

using Fields = std::map<std::string, std::string>;

// Header block -> fields (unfolded; last one wins; names as written).
Fields parse_fields(const std::string& block) {
    Fields f;
    std::string name;
    std::size_t pos = 0;
    while (pos < block.size()) {
        std::size_t e = block.find("\r\n", pos);
        if (e == std::string::npos) e = block.size();
        std::string line = block.substr(pos, e - pos);
        pos = e + 2;
        if (line.empty()) continue;
        if (line[0] == ' ' || line[0] == '\t') {
            f[name] += line;
            continue;
        }
        auto colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        name = line.substr(0, colon);
        f[name] = line.substr(colon + 2);
    }
    return f;
}

struct Part {
    Fields headers;
    std::string body;
};

struct ParsedDsn {
    Fields headers;
    std::string boundary;
    std::vector<Part> parts;
};

ParsedDsn parse_dsn(const std::string& m) {
    ParsedDsn d;
    auto split = m.find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    d.headers = parse_fields(m.substr(0, split + 2));
    const std::string& ct = d.headers["Content-Type"];
    REQUIRE(ct.find("multipart/report; report-type=delivery-status;") == 0);
    auto b = ct.find("boundary=\"");
    REQUIRE(b != std::string::npos);
    d.boundary = ct.substr(b + 10, ct.find('"', b + 10) - b - 10);
    const std::string body = m.substr(split + 4);
    const std::string delim = "\r\n--" + d.boundary;
    std::size_t pos = body.find("--" + d.boundary + "\r\n");
    REQUIRE(pos != std::string::npos);
    pos += d.boundary.size() + 4;
    for (;;) {
        std::size_t next = body.find(delim, pos);
        REQUIRE(next != std::string::npos);
        std::string part = body.substr(pos, next - pos);
        auto hs = part.find("\r\n\r\n");
        REQUIRE(hs != std::string::npos);
        d.parts.push_back(Part{parse_fields(part.substr(0, hs + 2)), part.substr(hs + 4)});
        pos = next + delim.size();
        if (body.compare(pos, 4, "--\r\n") == 0) {
            CHECK(pos + 4 == body.size());
            break;
        }
        REQUIRE(body.compare(pos, 2, "\r\n") == 0);
        pos += 2;
    }
    return d;
}

// message/delivery-status body -> blocks of fields.
std::vector<Fields> status_blocks(const std::string& body) {
    std::vector<Fields> blocks;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t e = body.find("\r\n\r\n", pos);
        if (e == std::string::npos) e = body.size();
        blocks.push_back(parse_fields(body.substr(pos, e - pos) + "\r\n"));
        pos = e + 4;
    }
    return blocks;
}

void check_line_rules(const std::string& m) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m[i] == '\n') {
            REQUIRE(i > 0);
            REQUIRE(m[i - 1] == '\r');  // CRLF only
            CHECK(i - 1 - start <= 998);
            start = i + 1;
        }
    }
}

const std::string original =
    "Received: from app by relay\r\n"
    "From: Billing <billing@shop.example>\r\n"
    "To: alice@example.org, bob@example.org\r\n"
    "Subject: Invoice \xc3\xa9\r\n"
    "\r\n"
    "Body line that must not appear with RET=HDRS\r\n";

DsnInput base_input() {
    DsnInput in;
    in.reporting_mta = "relay.example.com";
    in.envelope_sender = "billing@shop.example";
    in.envid = "QQ314159+2Bx";
    in.arrival = system_clock::time_point(seconds(1795633587));
    in.now = system_clock::time_point(seconds(1795633587 + 3600));
    in.boundary = "rp-boundary-1";
    in.message_id = "<dsn.1@relay.example.com>";
    in.original = original;
    DsnRecipient alice;
    alice.address = "alice@example.org";
    alice.orcpt = "rfc822;alice+2Btag@example.org";
    alice.reply =
        UpstreamOutcome{Stage::rcpt, 550, "5.1.1",
                        "The email account that you tried to reach does not exist. Please try "
                        "double-checking the recipient's email address for typos or unnecessary spaces. "
                        "For more information, go to https://support.google.com/mail/?p=NoSuchUser "
                        "a1sm123456wra.1 - gsmtp",
                        LocalFailure::none};
    alice.remote_mta = "smtp.gmail.com";
    DsnRecipient bob;
    bob.address = "bob@example.org";
    bob.status = "4.4.7";
    bob.reply = UpstreamOutcome{Stage::connect, 0, "", "delivery time expired", LocalFailure::none};
    in.recipients = {alice, bob};
    in.reason = "one recipient was refused, one expired";
    return in;
}

}  // namespace

TEST_CASE("dsn: structure of a RET=HDRS report with two recipients") {
    const std::string m = build_dsn(base_input());
    check_line_rules(m);
    ParsedDsn d = parse_dsn(m);
    CHECK(d.headers["From"] == "Mail Delivery System <MAILER-DAEMON@relay.example.com>");
    CHECK(d.headers["To"] == "<billing@shop.example>");
    CHECK(d.headers["Subject"] == "Undelivered Mail Returned to Sender");
    CHECK(d.headers["Date"] == "Wed, 25 Nov 2026 20:06:27 +0000");
    CHECK(d.headers["Message-ID"] == "<dsn.1@relay.example.com>");
    CHECK(d.headers["Auto-Submitted"] == "auto-replied");
    CHECK(d.headers["MIME-Version"] == "1.0");
    CHECK(d.boundary == "rp-boundary-1");
    REQUIRE(d.parts.size() == 3);

    CHECK(d.parts[0].headers["Content-Type"] == "text/plain; charset=utf-8");
    CHECK(d.parts[0].body.find("<alice@example.org>: host smtp.gmail.com said: 550 5.1.1 The") !=
          std::string::npos);
    CHECK(d.parts[0].body.find("<bob@example.org>: delivery time expired") != std::string::npos);

    CHECK(d.parts[1].headers["Content-Type"] == "message/delivery-status");
    auto blocks = status_blocks(d.parts[1].body);
    REQUIRE(blocks.size() == 3);
    CHECK(blocks[0]["Reporting-MTA"] == "dns; relay.example.com");
    CHECK(blocks[0]["Original-Envelope-Id"] == "QQ314159+x");  // xtext decoded
    CHECK(blocks[0]["Arrival-Date"] == "Wed, 25 Nov 2026 19:06:27 +0000");
    CHECK(blocks[1]["Original-Recipient"] == "rfc822;alice+tag@example.org");
    CHECK(blocks[1]["Final-Recipient"] == "rfc822; alice@example.org");
    CHECK(blocks[1]["Action"] == "failed");
    CHECK(blocks[1]["Status"] == "5.1.1");
    CHECK(blocks[1]["Remote-MTA"] == "dns; smtp.gmail.com");
    CHECK(blocks[1]["Diagnostic-Code"].find("smtp; 550 5.1.1 The email account") == 0);
    CHECK(blocks[1]["Diagnostic-Code"].find("a1sm123456wra.1 - gsmtp") != std::string::npos);
    CHECK(blocks[2].count("Original-Recipient") == 0);
    CHECK(blocks[2]["Final-Recipient"] == "rfc822; bob@example.org");
    CHECK(blocks[2]["Status"] == "4.4.7");
    CHECK(blocks[2].count("Diagnostic-Code") == 0);
    CHECK(blocks[2].count("Remote-MTA") == 0);

    CHECK(d.parts[2].headers["Content-Type"] == "text/rfc822-headers");
    CHECK(d.parts[2].headers["Content-Transfer-Encoding"] == "8bit");
    CHECK(d.parts[2].body == original.substr(0, original.find("\r\n\r\n") + 2));
    CHECK(m.find("Body line that must not appear") == std::string::npos);
}

TEST_CASE("dsn: long diagnostic texts are folded, not cut") {
    const std::string m = build_dsn(base_input());
    auto at = m.find("Diagnostic-Code:");
    REQUIRE(at != std::string::npos);
    auto eol = m.find("\r\n", at);
    CHECK(eol - at <= 78);
    CHECK(m[eol + 2] == ' ');  // continuation line
}

TEST_CASE("dsn: RET=FULL returns the whole message as message/rfc822") {
    DsnInput in = base_input();
    in.return_full = true;
    ParsedDsn d = parse_dsn(build_dsn(in));
    REQUIRE(d.parts.size() == 3);
    CHECK(d.parts[2].headers["Content-Type"] == "message/rfc822");
    CHECK(d.parts[2].body == original);
}

TEST_CASE("dsn: a boundary that occurs in the original is made unique") {
    DsnInput in = base_input();
    std::string evil = "Subject: --rp-boundary-1 rp-boundary-1=_1\r\n\r\n";
    in.original = evil;
    ParsedDsn d = parse_dsn(build_dsn(in));
    CHECK(d.boundary != "rp-boundary-1");
    CHECK(evil.find(d.boundary) == std::string::npos);
    REQUIRE(d.parts.size() == 3);
    CHECK(d.parts[2].body == evil.substr(0, evil.size() - 2));
}

TEST_CASE("dsn: delayed-only report, no envid, CR/LF in texts cannot inject fields") {
    DsnInput in = base_input();
    in.envid.clear();
    in.recipients.resize(1);
    in.recipients[0].action = DsnAction::delayed;
    in.recipients[0].reply =
        UpstreamOutcome{Stage::rcpt, 450, "4.2.1", "too quickly\r\nX-Evil: 1", LocalFailure::none};
    const std::string m = build_dsn(in);
    check_line_rules(m);
    ParsedDsn d = parse_dsn(m);
    CHECK(d.headers["Subject"] == "Delayed Mail (still being retried)");
    auto blocks = status_blocks(d.parts[1].body);
    REQUIRE(blocks.size() == 2);
    CHECK(blocks[0].count("Original-Envelope-Id") == 0);
    CHECK(blocks[1]["Action"] == "delayed");
    CHECK(blocks[1]["Status"] == "4.2.1");
    CHECK(blocks[1].count("X-Evil") == 0);
}

TEST_CASE("should_bounce: null sender and NOTIFY") {
    struct Row {
        const char* sender;
        const char* notify;
        DsnAction action;
        bool bounce;
    };
    const std::vector<Row> rows = {
        {"", "", DsnAction::failed, false},  // never a bounce for a bounce
        {"", "FAILURE", DsnAction::failed, false},
        {"a@b", "", DsnAction::failed, true},
        {"a@b", "", DsnAction::delayed, false},
        {"a@b", "NEVER", DsnAction::failed, false},
        {"a@b", "never", DsnAction::failed, false},
        {"a@b", "SUCCESS", DsnAction::failed, false},
        {"a@b", "DELAY", DsnAction::failed, false},
        {"a@b", "DELAY", DsnAction::delayed, true},
        {"a@b", "SUCCESS,FAILURE", DsnAction::failed, true},
        {"a@b", "failure, delay", DsnAction::delayed, true},
        {"a@b", "FAILURE", DsnAction::delayed, false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.sender);
        CAPTURE(r.notify);
        CHECK(should_bounce(r.sender, r.notify, r.action) == r.bounce);
    }
}

TEST_CASE("rfc5322_date") {
    struct Row {
        long long unix;
        const char* text;
    };
    const std::vector<Row> rows = {
        {0, "Thu, 1 Jan 1970 00:00:00 +0000"},
        {946684800, "Sat, 1 Jan 2000 00:00:00 +0000"},
        {1709251199, "Thu, 29 Feb 2024 23:59:59 +0000"},
        {1795633587, "Wed, 25 Nov 2026 19:06:27 +0000"},
    };
    for (const auto& r : rows) CHECK(rfc5322_date(system_clock::time_point(seconds(r.unix))) == r.text);
}

TEST_CASE("dsn: a huge reply text keeps every line within 998 octets") {
    DsnInput in = base_input();
    in.recipients[0].reply.text = std::string(3000, 'x') + " " + std::string(5000, 'y');
    check_line_rules(build_dsn(in));
}

TEST_CASE("dsn: the boundary is at most 70 bchars (RFC 2046)") {
    DsnInput in = base_input();
    in.boundary = "0123456789abcdef/1795633587123456789.42/" + std::string(100, 'h') + " \"<>@;";
    ParsedDsn d = parse_dsn(build_dsn(in));
    CHECK(d.boundary.size() <= 70);
    CHECK(d.boundary.find_first_of(" \"<>@;") == std::string::npos);
    CHECK(d.boundary.rfind("0123456789abcdef/1795633587123456789.42/", 0) == 0);
    REQUIRE(d.parts.size() == 3);
}
