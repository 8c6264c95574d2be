// SandboxTransport: the .eml it writes (envelope header lines, then the
// message from the given offset with strip_headers applied, body bytes
// unchanged), numbering that never overwrites, and a failed write as an
// outcome that blames no account.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "relay/sandbox_transport.hpp"

using namespace rp;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/rp-sandbox-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

relay::DeliveryReport deliver(relay::SandboxTransport& t, relay::DeliveryRequest r) {
    boost::asio::io_context io;
    relay::DeliveryReport report;
    boost::asio::co_spawn(
        io, [&]() -> boost::asio::awaitable<void> { report = co_await t.deliver(r); }, boost::asio::detached);
    io.run();
    return report;
}

const std::string kMessage =
    "Received: from a by b; Wed, 25 Nov 2026 19:00:00 +0000\r\n"
    "\tcontinued\r\n"
    "From: App <app@client.example>\r\n"
    "X-Originating-IP: [203.0.113.7]\r\n"
    "Subject: test\r\n"
    "\r\n"
    ".dot line\r\n"
    "caf\xc3\xa9 8-bit\r\n"
    "Received: in the body stays\r\n";

}  // namespace

TEST_CASE("sandbox: writes <id>-<n>.eml with the account, envelope and the filtered message") {
    TempDir dir;
    const auto spool_file = dir.path / "spoolfile";
    {
        std::ofstream out(spool_file, std::ios::binary);
        out << "HEADER-OF-THE-SPOOL-FORMAT\n" << kMessage;
    }
    config::Account account;
    account.username = "one@pool.example";
    relay::SandboxTransport t(
        {(dir.path / "box").string(), {"Received", "X-Originating-IP"}, config::SenderRewrite::envelope});
    relay::DeliveryRequest r;
    r.message_id = "0000000000000007";
    r.account = account;
    r.mail_from = "one@pool.example";
    r.original_from = "app@client.example";
    r.recipients = {"x@dest.example", "y@dest.example"};
    r.message_path = spool_file.string();
    r.body_offset = std::string("HEADER-OF-THE-SPOOL-FORMAT\n").size();
    r.body_size = kMessage.size();

    auto report = deliver(t, r);
    CHECK_FALSE(report.session_failure);
    REQUIRE(report.recipients.size() == 2);
    for (const auto& rr : report.recipients) {
        CHECK(rr.outcome.code == 250);
        CHECK(protocol::classify(rr.outcome) == protocol::Verdict::delivered);
    }
    const auto first = dir.path / "box" / "0000000000000007-1.eml";
    REQUIRE(std::filesystem::exists(first));
    CHECK(read(first) ==
          "X-Relaypool-Account: one@pool.example\r\n"
          "X-Relaypool-Mail-From: <one@pool.example>\r\n"
          "X-Relaypool-Rcpt-To: <x@dest.example>\r\n"
          "X-Relaypool-Rcpt-To: <y@dest.example>\r\n"
          "From: App <app@client.example>\r\n"
          "Subject: test\r\n"
          "\r\n"
          ".dot line\r\n"
          "caf\xc3\xa9 8-bit\r\n"
          "Received: in the body stays\r\n");

    // A second attempt for the same id gets the next number.
    deliver(t, r);
    CHECK(std::filesystem::exists(dir.path / "box" / "0000000000000007-2.eml"));
    CHECK(read(dir.path / "box" / "0000000000000007-1.eml").size() ==
          read(dir.path / "box" / "0000000000000007-2.eml").size());
}

TEST_CASE("sandbox: a write failure is an upstream failure, not an account's") {
    TempDir dir;
    config::Account account;
    account.username = "one@pool.example";
    const auto blocked = dir.path / "file";
    std::ofstream(blocked) << "x";
    relay::SandboxTransport t({blocked.string(), {}, config::SenderRewrite::envelope});
    relay::DeliveryRequest r;
    r.message_id = "1";
    r.account = account;
    r.recipients = {"x@dest.example"};
    r.message_path = blocked.string();
    r.body_size = 1;
    auto report = deliver(t, r);
    REQUIRE(report.session_failure);
    CHECK(protocol::classify(*report.session_failure) == protocol::Verdict::upstream_failure);
    CHECK(report.recipients.empty());

    t.shutdown();
    report = deliver(t, r);
    REQUIRE(report.session_failure);
    CHECK(protocol::classify(*report.session_failure) == protocol::Verdict::upstream_failure);
}
