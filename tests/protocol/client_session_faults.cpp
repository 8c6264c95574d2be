// Fault injection for ClientSession (Boost.MySQL algo_test style): a small
// fake SMTP server answers the session; the happy path is run once to count
// the server's replies, then re-run with reply k replaced by a 4xx, a 5xx, a
// 421, garbage or silence (timeout), for every k, with replies delivered whole
// or one byte at a time. Every run must end sanely: the failure is reported at
// the stage of reply k, per-recipient outcomes say exactly what happened, the
// session never authenticates twice and never hangs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/client_session.hpp"
#include "protocol/data_reader.hpp"

using namespace rp::protocol;

namespace {

struct ReplyInfo {
    Stage stage;
    int message = -1;    // index of the message in progress (MAIL count - 1)
    int recipient = -1;  // RCPT index within it
};

// Answers SMTP commands like a permissive Gmail; reply number `fault_at` is
// replaced by `fault` ("" = the server goes silent from there on).
struct FakeServer {
    bool offer_starttls = true;
    bool pipelining = true;
    bool chunking = false;
    std::string auth = "LOGIN PLAIN XOAUTH2";
    int fault_at = -1;
    std::string fault;

    std::string to_client;
    std::vector<ReplyInfo> replies;
    int auth_commands = 0;
    bool stalled = false;
    bool tls = false;
    std::vector<std::string> bodies;

    void connected() { reply(Stage::greeting, "220 fake.example ESMTP ready\r\n"); }

    void from_client(std::string_view bytes) {
        in_.append(bytes);
        for (;;) {
            if (mode_ == Mode::data) {
                std::string content;
                std::size_t used = reader_.feed(in_, content);
                body_ += content;
                in_.erase(0, used);
                if (!reader_.done()) return;
                reader_.reset();
                mode_ = Mode::cmd;
                bodies.push_back(body_);
                body_.clear();
                reply(Stage::body, "250 2.0.0 OK queued\r\n");
                continue;
            }
            if (mode_ == Mode::bdat) {
                std::size_t take = std::min(bdat_left_, in_.size());
                body_ += in_.substr(0, take);
                in_.erase(0, take);
                bdat_left_ -= take;
                if (bdat_left_ > 0) return;
                mode_ = Mode::cmd;
                if (bdat_last_) {
                    bodies.push_back(body_);
                    body_.clear();
                }
                reply(Stage::body, bdat_last_ ? "250 2.0.0 OK queued\r\n" : "250 2.0.0 chunk ok\r\n");
                continue;
            }
            std::size_t nl = in_.find("\r\n");
            if (nl == std::string::npos) return;
            std::string line = in_.substr(0, nl);
            in_.erase(0, nl + 2);
            command(line);
        }
    }

  private:
    enum class Mode { cmd, data, bdat };
    Mode mode_ = Mode::cmd;
    std::string in_;
    std::string body_;
    DataReader reader_;
    std::size_t bdat_left_ = 0;
    bool bdat_last_ = false;
    int login_step_ = 0;
    int message_ = -1;
    int recipient_ = -1;

    // Sends a reply (or the fault); true when the intended reply went out.
    bool reply(Stage stage, const std::string& text) {
        const int k = static_cast<int>(replies.size());
        replies.push_back(ReplyInfo{stage, message_, stage == Stage::rcpt ? recipient_ : -1});
        if (stalled) return false;
        if (k == fault_at) {
            if (fault.empty())
                stalled = true;
            else
                to_client += fault;
            return false;
        }
        to_client += text;
        return true;
    }

    static bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

    void ehlo() {
        std::string caps = "250-fake.example\r\n";
        if (!tls && offer_starttls) caps += "250-STARTTLS\r\n";
        if (tls || !offer_starttls) caps += "250-AUTH " + auth + "\r\n";
        if (pipelining) caps += "250-PIPELINING\r\n";
        if (chunking) caps += "250-CHUNKING\r\n";
        caps += "250 8BITMIME\r\n";
        reply(Stage::ehlo, caps);
    }

    void command(const std::string& line) {
        if (login_step_ > 0) {  // AUTH LOGIN continuation
            if (login_step_++ == 1) return void(reply(Stage::auth, "334 UGFzc3dvcmQ6\r\n"));
            login_step_ = 0;
            return void(reply(Stage::auth, "235 2.7.0 Accepted\r\n"));
        }
        if (starts(line, "EHLO ")) return ehlo();
        if (line == "STARTTLS") return void(reply(Stage::starttls, "220 2.0.0 Ready to start TLS\r\n"));
        if (starts(line, "AUTH ")) {
            ++auth_commands;
            if (line == "AUTH LOGIN") {
                if (reply(Stage::auth, "334 VXNlcm5hbWU6\r\n")) login_step_ = 1;
                return;
            }
            return void(reply(Stage::auth, "235 2.7.0 Accepted\r\n"));
        }
        if (starts(line, "MAIL FROM:")) {
            ++message_;
            recipient_ = -1;
            return void(reply(Stage::mail, "250 2.1.0 OK\r\n"));
        }
        if (starts(line, "RCPT TO:")) {
            ++recipient_;
            return void(reply(Stage::rcpt, "250 2.1.5 OK\r\n"));
        }
        if (line == "DATA") {
            if (reply(Stage::data, "354 Go ahead\r\n")) mode_ = Mode::data;
            return;
        }
        if (starts(line, "BDAT ")) {
            bdat_left_ = std::stoul(line.substr(5));
            bdat_last_ = line.find(" LAST") != std::string::npos;
            mode_ = Mode::bdat;
            return;
        }
        if (line == "RSET") return void(reply(Stage::rset, "250 2.0.0 Flushed\r\n"));
        if (line == "QUIT") return void(reply(Stage::quit, "221 2.0.0 Bye\r\n"));
        reply(Stage::quit, "500 5.5.1 unknown command\r\n");
    }
};

struct Run {
    std::vector<MessageResult> results;
    std::optional<UpstreamOutcome> failure;
    bool done = false;
};

const std::string raw_body = "Received: x\r\nFrom: a@shop\r\nSubject: t\r\n\r\n.line one\r\n..two\r\nend";

std::vector<OutgoingMessage> messages() {
    std::vector<OutgoingMessage> ms(2);
    ms[0].mail_from = "acct@example.com";
    ms[0].recipients = {"a@x.example", "b@x.example", "c@x.example"};
    ms[1].mail_from = "acct@example.com";
    ms[1].recipients = {"d@x.example"};
    for (auto& m : ms) m.filter.strip_headers = {"Received"};
    return ms;
}

Run drive(ClientConfig config, FakeServer& server, bool drip) {
    Run run;
    ClientSession s(config);
    auto ms = messages();
    std::size_t next_message = 0, body_pos = 0;
    if (config.tls != ClientTls::implicit) server.connected();
    for (int iter = 0; iter < 100000; ++iter) {
        ClientAction a = s.next();
        if (auto* w = std::get_if<client_action::Write>(&a)) {
            server.from_client(w->bytes);
        } else if (std::holds_alternative<client_action::ReadReply>(a)) {
            if (server.to_client.empty()) {
                REQUIRE_MESSAGE(server.stalled, "the session waits for a reply the server never sends");
                s.on_failure(LocalFailure::timeout, "timed out");
                continue;
            }
            const std::size_t n = drip ? 1 : server.to_client.size();
            s.on_bytes(std::string_view(server.to_client).substr(0, n));
            server.to_client.erase(0, n);
        } else if (std::holds_alternative<client_action::StartTls>(a)) {
            server.tls = true;
            s.tls_established();
            if (config.tls == ClientTls::implicit) server.connected();
        } else if (std::holds_alternative<client_action::SendBody>(a)) {
            if (body_pos < raw_body.size()) {
                s.body_data(std::string_view(raw_body).substr(body_pos, 7));
                body_pos += 7;
            } else {
                s.body_end();
                body_pos = 0;
            }
        } else {
            if (auto r = s.take_message_result()) run.results.push_back(std::move(*r));
            if (std::holds_alternative<client_action::Idle>(a)) {
                body_pos = 0;  // a message may have ended before its body was sent
                if (next_message < ms.size())
                    REQUIRE(s.begin_message(ms[next_message++]));
                else
                    s.quit();
                continue;
            }
            if (auto* f = std::get_if<client_action::Failed>(&a)) run.failure = f->outcome;
            run.done = std::holds_alternative<client_action::Done>(a);
            return run;
        }
    }
    FAIL("session did not terminate");
    return run;
}

ClientConfig base_config(ClientTls tls, AuthMechanism mech) {
    ClientConfig c;
    c.ehlo_hostname = "relay.example.com";
    c.tls = tls;
    c.credentials = ClientCredentials{mech, "acct@example.com", "secret"};
    return c;
}

bool is_message_stage(Stage s) {
    return s == Stage::mail || s == Stage::rcpt || s == Stage::data || s == Stage::body;
}

// What recipient r of the faulted message must report.
void check_faulted_recipient(const UpstreamOutcome& o, const ReplyInfo& at, int r, int code,
                             LocalFailure local, bool session_dies) {
    CAPTURE(r);
    if (at.stage == Stage::rcpt && !session_dies && r != at.recipient) {
        CHECK(o.stage == Stage::body);  // the others were delivered
        CHECK(o.code == 250);
        return;
    }
    CHECK(to_string(o.stage) == to_string(at.stage));
    CHECK(o.code == code);
    CHECK(o.local == local);
}

struct Fault {
    std::string wire;
    int code;
    LocalFailure local;
};

void fault_matrix(const ClientConfig& config, bool chunking) {
    FakeServer happy;
    happy.chunking = chunking;
    Run clean = drive(config, happy, false);
    REQUIRE(clean.done);
    REQUIRE(clean.results.size() == 2);
    for (const auto& r : clean.results)
        for (std::size_t i = 0; i < r.recipients.size(); ++i) CHECK(r.delivered(i));
    REQUIRE(happy.bodies.size() == 2);
    CHECK(happy.bodies[0] == "From: a@shop\r\nSubject: t\r\n\r\n.line one\r\n..two\r\nend" +
                                 std::string(chunking ? "" : "\r\n"));
    const auto script = happy.replies;

    const std::vector<Fault> faults = {
        {"451 4.3.0 temporary fault\r\n", 451, LocalFailure::none},
        {"554 5.0.0 permanent fault\r\n", 554, LocalFailure::none},
        {"421 4.7.0 closing\r\n", 421, LocalFailure::none},
        {"garbage\r\n", 0, LocalFailure::protocol},
        {"", 0, LocalFailure::timeout},
    };
    for (std::size_t k = 0; k < script.size(); ++k) {
        for (const auto& f : faults) {
            for (bool drip : {false, true}) {
                const ReplyInfo at = script[k];
                CAPTURE(k);
                CAPTURE(to_string(at.stage));
                CAPTURE(f.wire);
                CAPTURE(drip);
                FakeServer server;
                server.chunking = chunking;
                server.fault_at = static_cast<int>(k);
                server.fault = f.wire;
                Run run = drive(config, server, drip);
                CHECK(server.auth_commands <= 1);
                const bool session_dies = f.code == 421 || f.code == 0 || !is_message_stage(at.stage);

                if (at.stage == Stage::quit) {  // QUIT answered badly or not at all: still done
                    CHECK(run.done);
                    CHECK(run.results.size() == 2);
                    continue;
                }
                if (session_dies) {
                    REQUIRE(run.failure);
                    CHECK(to_string(run.failure->stage) == to_string(at.stage));
                    CHECK(run.failure->code == f.code);
                    CHECK(run.failure->local == f.local);
                } else {
                    CHECK(run.done);
                }
                // Messages before the faulted one were delivered.
                const int faulted = is_message_stage(at.stage) ? at.message : -1;
                for (int m = 0; m < static_cast<int>(run.results.size()); ++m) {
                    const auto& res = run.results[static_cast<std::size_t>(m)];
                    if (m != faulted) {
                        for (std::size_t i = 0; i < res.recipients.size(); ++i) CHECK(res.delivered(i));
                        continue;
                    }
                    for (std::size_t i = 0; i < res.recipients.size(); ++i)
                        check_faulted_recipient(res.recipients[i], at, static_cast<int>(i), f.code, f.local,
                                                session_dies);
                }
                if (is_message_stage(at.stage)) CHECK(static_cast<int>(run.results.size()) > at.message);
                if (at.stage == Stage::rset)
                    CHECK(run.results.size() == static_cast<std::size_t>(at.message + 1));
                if (!is_message_stage(at.stage) && at.stage != Stage::rset) CHECK(run.results.empty());
                if (!session_dies) CHECK(run.results.size() == 2);  // the session went on to the next message
            }
        }
    }
}

}  // namespace

TEST_CASE("faults: STARTTLS + AUTH PLAIN + PIPELINING + DATA, a fault at every reply") {
    fault_matrix(base_config(ClientTls::starttls, AuthMechanism::automatic), false);
}

TEST_CASE("faults: STARTTLS + AUTH LOGIN, no PIPELINING, BDAT, a fault at every reply") {
    ClientConfig c = base_config(ClientTls::starttls, AuthMechanism::login);
    c.use_pipelining = false;
    c.bdat_chunk_size = 16;
    fault_matrix(c, true);
}

TEST_CASE("faults: implicit TLS + XOAUTH2, a fault at every reply") {
    fault_matrix(base_config(ClientTls::implicit, AuthMechanism::xoauth2), false);
}

TEST_CASE("faults: TLS handshake failure is reported at stage tls") {
    for (ClientTls mode : {ClientTls::starttls, ClientTls::implicit}) {
        FakeServer server;
        ClientSession s(base_config(mode, AuthMechanism::automatic));
        if (mode != ClientTls::implicit) server.connected();
        for (int i = 0; i < 100; ++i) {
            ClientAction a = s.next();
            if (auto* w = std::get_if<client_action::Write>(&a))
                server.from_client(w->bytes);
            else if (std::holds_alternative<client_action::ReadReply>(a)) {
                REQUIRE_FALSE(server.to_client.empty());
                s.on_bytes(server.to_client);
                server.to_client.clear();
            } else if (std::holds_alternative<client_action::StartTls>(a)) {
                s.on_failure(LocalFailure::tls_handshake, "handshake failed");
            } else {
                REQUIRE(std::holds_alternative<client_action::Failed>(a));
                const auto& o = std::get<client_action::Failed>(a).outcome;
                CHECK(o.stage == Stage::tls);
                CHECK(deferral_reason(o, classify(o)) == "tls");
                break;
            }
        }
    }
}
