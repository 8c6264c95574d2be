// SmtpTransport against the fake Gmail upstream (tests/integration/
// fake_upstream.py, run as a child process over real sockets and real TLS):
// content arrives byte-exact, sessions are reused without a second AUTH,
// refusals and local failures (refused, TLS verification, timeouts) come back
// as outcomes, the per-account connection bound holds.
// Needs /usr/bin/python3 and openssl (both in scripts/install-deps.sh).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "relay/smtp_transport.hpp"

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace rp;
using protocol::LocalFailure;
using protocol::Stage;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool port_open(const std::string& host, int port) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({asio::ip::make_address(host), static_cast<unsigned short>(port)}, ec);
    return !ec;
}

bool wait_port(const std::string& host, int port, bool open) {
    for (int i = 0; i < 250; ++i) {
        if (port_open(host, port) == open) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

// The fake upstream as a child process (its CLI prints {"port":..,"ca_file":..}).
class FakeUpstream {
  public:
    explicit FakeUpstream(std::vector<std::string> extra, std::string host = "127.0.0.1") : host_(host) {
        char tmpl[] = "/tmp/rp-smtp-transport-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        std::vector<std::string> args = {
            "/usr/bin/python3", std::string(RP_SOURCE_DIR) + "/tests/integration/fake_upstream.py",
            "--host",           host,
            "--cert-dir",       (dir_ / "pki").string(),
            "--record-dir",     (dir_ / "rec").string(),
            "--account",        "one@agency.example:pw-one",
            "--account",        "two@agency.example:pw-two"};
        args.insert(args.end(), extra.begin(), extra.end());
        int out[2];
        REQUIRE(::pipe(out) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(out[1], 1);
            int err = ::open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(err, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c;
        while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        ::close(out[0]);
        port_ = std::stoi(field(line, "\"port\": "));
        auto ca = field(line, "\"ca_file\": \"");
        ca_file_ = ca.substr(0, ca.find('"'));
    }
    ~FakeUpstream() {
        stop();
        fs::remove_all(dir_);
    }

    // Stops the process; its final counters are then in stats().
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        int status;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    std::string stats() const { return read_file(dir_ / "stderr"); }
    void down() {
        ::kill(pid_, SIGUSR1);
        REQUIRE(wait_port(host_, port_, false));
    }
    void up() {
        ::kill(pid_, SIGUSR2);
        REQUIRE(wait_port(host_, port_, true));
    }
    std::string eml(int seq) const { return read_file(dir_ / "rec" / record_name(seq, ".eml")); }
    std::string meta(int seq) const { return read_file(dir_ / "rec" / record_name(seq, ".json")); }
    std::size_t records() const {
        if (!fs::exists(dir_ / "rec")) return 0;
        std::size_t n = 0;
        for (auto& e : fs::directory_iterator(dir_ / "rec")) n += e.path().extension() == ".eml";
        return n;
    }

    int port() const { return port_; }
    const std::string& ca_file() const { return ca_file_; }
    const fs::path& dir() const { return dir_; }

  private:
    static std::string field(const std::string& line, const std::string& key) {
        auto at = line.find(key);
        REQUIRE(at != std::string::npos);
        return line.substr(at + key.size());
    }
    static std::string record_name(int seq, const char* ext) {
        char name[32];
        std::snprintf(name, sizeof name, "%06d%s", seq, ext);
        return name;
    }

    std::string host_;
    fs::path dir_;
    pid_t pid_ = -1;
    int port_ = 0;
    std::string ca_file_;
};

// The body as the client submitted it, stored after a 10-byte prefix (the
// spool's own header stands in for it) so body_offset is exercised.
const std::string kPrefix = "SPOOLHDR\r\n";
const std::string kMessage =
    "Received: from app.example ([10.0.0.1])\r\n\tby relay; Wed, 25 Nov 2026 19:00:00 +0000\r\n"
    "X-Originating-IP: [10.0.0.1]\r\n"
    "From: App <app@example.com>\r\nTo: r@example.net\r\nSubject: =?utf-8?q?h=C3=A9llo?=\r\n\r\n"
    ".leading dot\r\n..two dots\r\n.\r\n8-bit: \xc3\xa9\xff\r\n" +
    std::string(998, 'x') + "\r\nlast line\r\n";
const std::string kExpected =
    "From: App <app@example.com>\r\nTo: r@example.net\r\nSubject: =?utf-8?q?h=C3=A9llo?=\r\n\r\n"
    ".leading dot\r\n..two dots\r\n.\r\n8-bit: \xc3\xa9\xff\r\n" +
    std::string(998, 'x') + "\r\nlast line\r\n";

struct Fixture {
    fs::path spool_file;
    config::Account one = account("one@agency.example", "pw-one");
    config::Account two = account("two@agency.example", "pw-two");
    config::Account wrong = account("one@agency.example", "not-the-password");

    static config::Account account(std::string user, std::string password) {
        config::Account a;
        a.username = std::move(user);
        a.password = std::move(password);
        return a;
    }

    Fixture() {
        char tmpl[] = "/tmp/rp-smtp-msg-XXXXXX";
        int fd = ::mkstemp(tmpl);
        ::close(fd);
        spool_file = tmpl;
        std::ofstream(spool_file, std::ios::binary) << kPrefix << kMessage;
    }
    ~Fixture() { fs::remove(spool_file); }

    // (A default argument would be an initializer_list, which GCC 12 cannot
    // use inside a coroutine.)
    relay::DeliveryRequest request(const config::Account& account) const {
        return request(account, std::vector<std::string>(1, "r@example.net"));
    }
    relay::DeliveryRequest request(const config::Account& account, std::vector<std::string> rcpts) const {
        relay::DeliveryRequest r;
        r.message_id = "M1";
        r.account = account;
        r.mail_from = account.username;
        r.original_from = "app@example.com";
        r.recipients = std::move(rcpts);
        r.message_path = spool_file.string();
        r.body_offset = kPrefix.size();
        r.body_size = kMessage.size();
        r.body_8bitmime = true;
        return r;
    }
};

relay::SmtpTransportOptions options_for(const FakeUpstream& up, std::string host = "127.0.0.1") {
    relay::SmtpTransportOptions o;
    o.host = host;
    o.port = static_cast<std::uint16_t>(up.port());
    o.ca_file = up.ca_file();
    o.ehlo_hostname = "relay.test";
    o.strip_headers = {"Received", "X-Originating-IP"};
    o.idle_keep = std::chrono::seconds(5);
    o.connect_timeout = std::chrono::seconds(5);
    return o;
}

// Runs `body(transport)` as a coroutine, then shuts the transport down and
// lets its QUITs finish.
template <class Body>
void run(const relay::SmtpTransportOptions& options, Body body) {
    asio::io_context io;
    relay::SmtpTransport transport(io.get_executor(), options);
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await body(transport);
            transport.shutdown();
            finished = true;
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    REQUIRE(finished);
}

relay::DeliveryReport deliver_one(const relay::SmtpTransportOptions& options, relay::DeliveryRequest req) {
    relay::DeliveryReport report;
    run(options, [&](relay::SmtpTransport& t) -> asio::awaitable<void> { report = co_await t.deliver(req); });
    return report;
}

bool delivered(const relay::RecipientResult& r) {
    return r.outcome.stage == Stage::body && r.outcome.code == 250 && r.outcome.local == LocalFailure::none;
}

}  // namespace

TEST_CASE("smtp transport delivers byte-exact content with BDAT and with DATA") {
    for (bool chunking : {true, false}) {
        CAPTURE(chunking);
        FakeUpstream up({});
        Fixture f;
        auto options = options_for(up);
        options.use_chunking = chunking;
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE_FALSE(report.session_failure);
        REQUIRE(report.recipients.size() == 1);
        CHECK(delivered(report.recipients[0]));
        CHECK(up.eml(1) == kExpected);
        auto meta = up.meta(1);
        CHECK(meta.find(chunking ? "\"via\": \"BDAT\"" : "\"via\": \"DATA\"") != std::string::npos);
        CHECK(meta.find("\"mail_from\": \"one@agency.example\"") != std::string::npos);
        CHECK(meta.find("\"account\": \"one@agency.example\"") != std::string::npos);
    }
}

TEST_CASE("smtp transport reuses one authenticated session per account") {
    FakeUpstream up({});
    Fixture f;
    auto options = options_for(up);
    options.messages_per_connection = 2;
    relay::SmtpTransportStats stats;
    std::vector<relay::DeliveryReport> reports;
    run(options, [&](relay::SmtpTransport& t) -> asio::awaitable<void> {
        for (int i = 0; i < 4; ++i) {
            // (GCC 12 miscompiles co_await inside a call's argument list)
            relay::DeliveryReport r = co_await t.deliver(f.request(i < 3 ? f.one : f.two));
            reports.push_back(std::move(r));
        }
        stats = t.stats();
    });
    for (auto& r : reports) {
        REQUIRE(r.recipients.size() == 1);
        CHECK(delivered(r.recipients[0]));
    }
    // 3 messages for one (2 per session) -> 2 sessions; one session for two.
    CHECK(stats.connections == 3);
    CHECK(stats.reused == 1);
    up.stop();
    auto s = up.stats();
    CHECK(s.find("\"logins\": 3") != std::string::npos);
    CHECK(s.find("\"auth_attempts\": 3") != std::string::npos);
    CHECK(s.find("\"messages\": 4") != std::string::npos);
    CHECK(s.find("\"quits\": 3") != std::string::npos);
}

TEST_CASE("smtp transport reports per-recipient outcomes") {
    FakeUpstream up(
        {"--fault", R"({"stage":"rcpt","recipient":"ghost@example.net","reply":"550 5.1.1 no such user"})",
         "--fault", R"({"stage":"rcpt","recipient":"fast@example.net","reply":"450 4.2.1 too quickly"})"});
    Fixture f;
    auto report = deliver_one(options_for(up),
                              f.request(f.one, {"ghost@example.net", "ok@example.net", "fast@example.net"}));
    REQUIRE_FALSE(report.session_failure);
    REQUIRE(report.recipients.size() == 3);
    CHECK(report.recipients[0].address == "ghost@example.net");
    CHECK(report.recipients[0].outcome.stage == Stage::rcpt);
    CHECK(report.recipients[0].outcome.code == 550);
    CHECK(report.recipients[0].outcome.enhanced == "5.1.1");
    CHECK(delivered(report.recipients[1]));
    CHECK(report.recipients[2].outcome.code == 450);
    CHECK(up.meta(1).find("\"rcpts\": [\"ok@example.net\"]") != std::string::npos);
}

TEST_CASE("smtp transport turns upstream refusals into outcomes") {
    struct Row {
        const char* fault;
        Stage stage;
        int code;
        const char* enhanced;
        bool session_failure;
    };
    const Row rows[] = {
        {R"({"stage":"auth","reply":"535-5.7.8 Username and Password not accepted.\r\n535 5.7.8 x - gsmtp"})",
         Stage::auth, 535, "5.7.8", true},
        {R"({"stage":"auth","reply":"454 4.7.0 Too many login attempts, please try again later."})",
         Stage::auth, 454, "4.7.0", true},
        {R"({"stage":"greeting","reply":"421 4.7.0 Try again later, closing connection."})", Stage::greeting,
         421, "4.7.0", true},
        {R"({"stage":"mail","reply":"550-5.4.5 Daily user sending limit exceeded.\r\n550 5.4.5 x - gsmtp"})",
         Stage::mail, 550, "5.4.5", false},
        {R"({"stage":"rcpt","reply":"550 5.4.5 Daily user sending limit exceeded."})", Stage::rcpt, 550,
         "5.4.5", false},
        {R"({"stage":"data","reply":"421 4.7.0 Try again later, closing connection. [DATA]"})", Stage::data,
         421, "4.7.0", false},
        {R"({"stage":"body","reply":"552 5.3.4 Your message exceeded Google's message size limits."})",
         Stage::body, 552, "5.3.4", false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.fault);
        FakeUpstream up({"--fault", row.fault});
        Fixture f;
        auto options = options_for(up);
        options.use_chunking = false;  // "data" is the reply to DATA (a BDAT reply is stage body)
        auto report = deliver_one(options, f.request(f.one));
        CHECK(up.records() == (row.stage == Stage::body ? 1u : 0u));  // a refused body is recorded as refused
        const protocol::UpstreamOutcome* o = nullptr;
        if (row.session_failure) {
            REQUIRE(report.session_failure);
            o = &*report.session_failure;
        } else {
            REQUIRE(report.recipients.size() == 1);
            o = &report.recipients[0].outcome;
        }
        CHECK(o->stage == row.stage);
        CHECK(o->code == row.code);
        CHECK(o->enhanced == row.enhanced);
        CHECK(o->local == LocalFailure::none);
    }
}

TEST_CASE("smtp transport: bad credentials fail once, no second mechanism") {
    FakeUpstream up({});
    Fixture f;
    auto report = deliver_one(options_for(up), f.request(f.wrong));
    REQUIRE(report.session_failure);
    CHECK(report.session_failure->stage == Stage::auth);
    CHECK(report.session_failure->code == 535);
    up.stop();
    CHECK(up.stats().find("\"auth_attempts\": 1") != std::string::npos);
}

TEST_CASE("smtp transport local failures: refused, TLS verification, timeouts") {
    Fixture f;
    SUBCASE("connection refused") {
        FakeUpstream up({});
        auto options = options_for(up);
        up.down();
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->stage == Stage::connect);
        CHECK(report.session_failure->local == LocalFailure::refused);
    }
    SUBCASE("unknown CA") {
        FakeUpstream up({});
        auto options = options_for(up);
        options.ca_file = "";
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->stage == Stage::tls);
        CHECK(report.session_failure->local == LocalFailure::tls_verify);
    }
    SUBCASE("certificate for another host name") {
        FakeUpstream up({}, "127.0.0.2");  // the certificate names localhost and 127.0.0.1 only
        auto report = deliver_one(options_for(up, "127.0.0.2"), f.request(f.one));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->local == LocalFailure::tls_verify);
        CHECK(report.session_failure->text.find("hostname mismatch") != std::string::npos);
    }
    SUBCASE("host name verified by DNS name") {
        FakeUpstream up({});
        auto report = deliver_one(options_for(up, "localhost"), f.request(f.one));
        REQUIRE_FALSE(report.session_failure);
        CHECK(delivered(report.recipients.at(0)));
    }
    SUBCASE("implicit TLS against a STARTTLS port") {
        FakeUpstream up({});
        auto options = options_for(up);
        options.tls = config::UpstreamTls::implicit;
        options.timeouts.command = std::chrono::seconds(5);
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->local == LocalFailure::tls_handshake);
    }
    SUBCASE("greeting never comes") {
        FakeUpstream up({"--fault", R"({"stage":"greeting","action":"hang"})"});
        auto options = options_for(up);
        options.timeouts.greeting = std::chrono::milliseconds(300);
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->stage == Stage::greeting);
        CHECK(report.session_failure->local == LocalFailure::timeout);
    }
    SUBCASE("end-of-data reply never comes") {
        FakeUpstream up({"--fault", R"({"stage":"body","action":"hang"})"});
        auto options = options_for(up);
        options.timeouts.data_end = std::chrono::milliseconds(300);
        auto report = deliver_one(options, f.request(f.one));
        REQUIRE(report.recipients.size() == 1);
        CHECK(report.recipients[0].outcome.local == LocalFailure::timeout);
        CHECK(report.end_unanswered);  // the upstream may have taken it
    }
    SUBCASE("a refusal at RCPT: nothing went out, nothing may have been taken") {
        FakeUpstream up({"--fault", R"({"stage":"rcpt","reply":"550 5.1.1 no such user"})"});
        auto report = deliver_one(options_for(up), f.request(f.one));
        CHECK_FALSE(report.end_unanswered);
    }
    SUBCASE("spool file missing") {
        FakeUpstream up({});
        auto req = f.request(f.one);
        req.message_path = "/nonexistent/spool/file";
        auto report = deliver_one(options_for(up), req);
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->local == LocalFailure::protocol);
    }
    SUBCASE("oauth2 account without a token source: refused, never sent with an empty password") {
        FakeUpstream up({});
        config::Account oauth = Fixture::account("one@agency.example", "");
        oauth.oauth2 = config::OAuth2{};
        oauth.oauth2->service_account_file = "/run/secrets/sa.json";
        auto report = deliver_one(options_for(up), f.request(oauth));
        REQUIRE(report.session_failure);
        CHECK(report.session_failure->local == LocalFailure::credentials_refused);
        CHECK(report.session_failure->stage == protocol::Stage::auth);
        CHECK(up.records() == 0);
    }
}

TEST_CASE("smtp transport hands the result on before the RSET that ends the transaction") {
    // The 250 after the body is the outcome: the delivery must get it (to
    // write it down) without waiting on the RSET round trip, here one that
    // never comes. Only a process that is never killed could hold it meanwhile.
    FakeUpstream up({"--fault", R"({"stage":"rset","action":"hang"})"});
    Fixture f;
    auto options = options_for(up);
    options.timeouts.command = std::chrono::seconds(2);  // then the hung RSET closes the session
    relay::DeliveryReport report;
    relay::SmtpTransportStats when_reported;
    run(options, [&](relay::SmtpTransport& t) -> asio::awaitable<void> {
        report = co_await t.deliver(f.request(f.one));
        when_reported = t.stats();
    });
    REQUIRE(report.recipients.size() == 1);
    CHECK(delivered(report.recipients[0]));
    CHECK(when_reported.open == 1);  // its session still busy with the RSET
    CHECK(when_reported.idle == 0);
}

TEST_CASE("smtp transport shutdown cuts an RSET or a QUIT the upstream never answers") {
    // The message's result is already written down: a stop must not wait
    // out the command timeout (here a minute; QUIT's own is 30 s) for the
    // last reply. It cuts them after 2 s.
    for (std::string stage : {"rset", "quit"}) {
        CAPTURE(stage);
        FakeUpstream up({"--fault", R"({"stage":")" + stage + R"(","action":"hang"})"});
        Fixture f;
        auto options = options_for(up);
        options.timeouts.command = std::chrono::seconds(60);
        relay::DeliveryReport report;
        const auto started = std::chrono::steady_clock::now();
        run(options, [&](relay::SmtpTransport& t) -> asio::awaitable<void> {
            report = co_await t.deliver(f.request(f.one));
        });
        REQUIRE(report.recipients.size() == 1);
        CHECK(delivered(report.recipients[0]));
        CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
    }
}

TEST_CASE("smtp transport shutdown also cuts a delivery's RSET that began after the stop") {
    // A delivery still in its DATA when the stop comes (the upstream takes a
    // second to answer the body) ends after shutdown(); its RSET, never
    // answered, is cut 2 s later too, not at the one-minute command timeout.
    FakeUpstream up(
        {"--fault", R"({"stage":"body","delay":1.0})", "--fault", R"({"stage":"rset","action":"hang"})"});
    Fixture f;
    auto options = options_for(up);
    options.timeouts.command = std::chrono::seconds(60);
    asio::io_context io;
    relay::SmtpTransport transport(io.get_executor(), options);
    relay::DeliveryReport report;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { report = co_await transport.deliver(f.request(f.one)); },
        asio::detached);
    asio::steady_timer stop(io, std::chrono::milliseconds(300));
    stop.async_wait([&](boost::system::error_code) { transport.shutdown(); });
    const auto started = std::chrono::steady_clock::now();
    io.run();
    REQUIRE(report.recipients.size() == 1);
    CHECK(delivered(report.recipients[0]));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
}

TEST_CASE("smtp transport implicit TLS") {
    FakeUpstream up({"--tls", "implicit"});
    Fixture f;
    auto options = options_for(up);
    options.tls = config::UpstreamTls::implicit;
    auto report = deliver_one(options, f.request(f.one));
    REQUIRE_FALSE(report.session_failure);
    CHECK(delivered(report.recipients.at(0)));
    CHECK(up.eml(1) == kExpected);
}

TEST_CASE("smtp transport replaces an idle session the upstream dropped") {
    FakeUpstream up({});
    Fixture f;
    std::vector<relay::DeliveryReport> reports;
    relay::SmtpTransportStats stats;
    run(options_for(up), [&](relay::SmtpTransport& t) -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            if (i == 1) {
                up.down();  // drops the idle session
                up.up();
            }
            relay::DeliveryReport r = co_await t.deliver(f.request(f.one));
            reports.push_back(std::move(r));
        }
        stats = t.stats();
    });
    for (auto& r : reports) CHECK(delivered(r.recipients.at(0)));
    CHECK(stats.connections == 2);
    CHECK(up.records() == 2);
}

TEST_CASE("smtp transport bounds sessions per account") {
    FakeUpstream up({});
    Fixture f;
    auto options = options_for(up);
    options.connections_per_account = 1;
    asio::io_context io;
    relay::SmtpTransport transport(io.get_executor(), options);
    int done = 0;
    auto req = f.request(f.one);
    for (int i = 0; i < 4; ++i) {
        asio::co_spawn(io, transport.deliver(req), [&](std::exception_ptr e, relay::DeliveryReport r) {
            REQUIRE_FALSE(e);
            CHECK(delivered(r.recipients.at(0)));
            if (++done == 4) transport.shutdown();
        });
    }
    io.run();
    CHECK(done == 4);
    CHECK(transport.stats().connections == 1);
    CHECK(up.records() == 4);
}
