// A dialogue runner for ClientSession tests (chasquid t-12 style): a script of
// lines, replayed against the sans-IO session.
//
//   S: text        a server reply line (CRLF added); consecutive S lines are
//                  delivered in one on_bytes() (one read, as with PIPELINING)
//   C: text        an expected client line (CRLF added); consecutive C lines
//                  are compared with everything written since the last check
//   TLS            expect StartTls, then tls_established()
//   TLSFAIL        expect StartTls, then on_failure(tls_verify)
//   BODY           expect SendBody, then feed the message body (in `piece`
//                  sized pieces) and body_end(); stops early when the session
//                  waits for a reply (BDAT chunk): a later BODY continues
//   DRAIN          move the client output so far to `drained` (unchecked)
//   IDLE           expect Idle
//   BEGIN n        begin_message(messages[n]) (must be accepted)
//   QUIT           quit()
//   TIMEOUT        expect ReadReply, then on_failure(timeout)
//   DONE           expect Done
//   FAILED s c     expect Failed with stage s (to_string) and code c
// Results of every message are collected in order.
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "protocol/client_session.hpp"

namespace rp::test {

using namespace rp::protocol;

struct Dialogue {
    ClientSession session;
    std::vector<OutgoingMessage> messages;
    std::string body;       // the raw stored message fed at BODY
    std::size_t piece = 5;  // body_data piece size
    std::vector<MessageResult> results;
    std::vector<std::string> writes;  // every Write, in order (for extra checks)
    std::vector<bool> sensitive;      // Write::sensitive, parallel to writes
    std::optional<UpstreamOutcome> failure;
    std::string drained;  // client output taken by DRAIN

    explicit Dialogue(ClientConfig config) : session(std::move(config)) {}

    void run(const std::string& script) {
        std::istringstream in(script);
        std::string line;
        std::vector<std::string> lines;
        while (std::getline(in, line)) {
            auto first = line.find_first_not_of(' ');
            if (first == std::string::npos) continue;
            lines.push_back(line.substr(first));
        }
        for (std::size_t i = 0; i < lines.size();) i = step(lines, i);
        CHECK_MESSAGE(written_.empty(), "unchecked client output: " << written_);
    }

  private:
    std::optional<ClientAction> pending_;
    std::string written_;
    std::size_t body_pos_ = 0;

    static bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

    void pump() {
        if (pending_) return;
        for (int guard = 0; guard < 100000; ++guard) {
            ClientAction a = session.next();
            if (auto* w = std::get_if<client_action::Write>(&a)) {
                REQUIRE(w->timeout.count() > 0);
                written_ += w->bytes;
                writes.push_back(w->bytes);
                sensitive.push_back(w->sensitive);
                continue;
            }
            if (std::holds_alternative<client_action::Idle>(a) ||
                std::holds_alternative<client_action::Done>(a) ||
                std::holds_alternative<client_action::Failed>(a)) {
                if (auto r = session.take_message_result()) results.push_back(std::move(*r));
            }
            if (auto* f = std::get_if<client_action::Failed>(&a)) failure = f->outcome;
            pending_ = std::move(a);
            return;
        }
        FAIL("session loops on Write");
    }

    template <class T>
    void expect_action(const std::string& what) {
        pump();
        INFO("script step: " << what << "; pending action index " << pending_->index());
        REQUIRE(std::holds_alternative<T>(*pending_));
    }

    std::size_t step(const std::vector<std::string>& lines, std::size_t i) {
        const std::string& l = lines[i];
        INFO("script line " << i << ": " << l);
        if (starts(l, "S:") || starts(l, "C:")) {
            const std::string tag = l.substr(0, 2);
            std::string text;
            while (i < lines.size() && starts(lines[i], tag.c_str())) {
                std::string t = lines[i].substr(2);
                if (!t.empty() && t[0] == ' ') t.erase(0, 1);
                text += t + "\r\n";
                ++i;
            }
            if (tag == "S:") {
                expect_action<client_action::ReadReply>(l);
                session.on_bytes(text);
                pending_.reset();
            } else {
                pump();
                CHECK(written_ == text);
                written_.clear();
            }
            return i;
        }
        if (l == "TLS" || l == "TLSFAIL") {
            expect_action<client_action::StartTls>(l);
            if (l == "TLS")
                session.tls_established();
            else
                session.on_failure(LocalFailure::tls_verify, "certificate verify failed");
            pending_.reset();
        } else if (l == "BODY") {
            expect_action<client_action::SendBody>(l);
            while (body_pos_ < body.size()) {
                session.body_data(std::string_view(body).substr(body_pos_, piece));
                body_pos_ += piece;
                pending_.reset();
                pump();
                if (!std::holds_alternative<client_action::SendBody>(*pending_))
                    return i + 1;  // a BDAT reply
            }
            session.body_end();
            body_pos_ = 0;
            pending_.reset();
        } else if (l == "DRAIN") {
            pump();
            drained += written_;
            written_.clear();
        } else if (l == "IDLE") {
            expect_action<client_action::Idle>(l);
        } else if (starts(l, "BEGIN ")) {
            expect_action<client_action::Idle>(l);
            REQUIRE(session.begin_message(messages.at(std::stoul(l.substr(6)))));
            pending_.reset();
        } else if (l == "QUIT") {
            expect_action<client_action::Idle>(l);
            session.quit();
            pending_.reset();
        } else if (l == "TIMEOUT") {
            expect_action<client_action::ReadReply>(l);
            session.on_failure(LocalFailure::timeout, "read timed out");
            pending_.reset();
        } else if (l == "DONE") {
            expect_action<client_action::Done>(l);
        } else if (starts(l, "FAILED ")) {
            expect_action<client_action::Failed>(l);
            std::istringstream f(l.substr(7));
            std::string stage;
            int code = -1;
            f >> stage >> code;
            const auto& o = std::get<client_action::Failed>(*pending_).outcome;
            CHECK(to_string(o.stage) == stage);
            CHECK(o.code == code);
        } else {
            FAIL("bad script line: " << l);
        }
        return i + 1;
    }
};

}  // namespace rp::test
