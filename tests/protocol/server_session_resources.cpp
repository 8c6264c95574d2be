// ServerSession resource behaviour: an idle session does not keep the buffer
// capacity of a large message it received before; pipelined commands cannot
// make it hold their replies; junk commands cannot keep it open forever.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "protocol/server_session.hpp"

using namespace rp::protocol;

namespace {

SessionOptions trusted_options() {
    SessionOptions o;
    o.hostname = "relay.test";
    o.tls = TlsMode::implicit;
    o.max_message_size = 4 * 1024 * 1024;
    o.client_trusted = true;
    o.require_auth = false;
    return o;
}

// Feeds `input` in reads of `read_size` bytes, answering like a healthy
// driver, until the session needs more input and everything was fed.
void run(ServerSession& s, const std::string& input, std::size_t read_size) {
    std::size_t fed = 0;
    for (;;) {
        Action a = s.next();
        if (std::holds_alternative<action::NeedMore>(a)) {
            if (fed == input.size()) return;
            std::size_t n = std::min(read_size, input.size() - fed);
            s.feed(std::string_view(input).substr(fed, n));
            fed += n;
        } else if (std::holds_alternative<action::BeginMessage>(a)) {
            s.message_begun(true);
        } else if (std::holds_alternative<action::CommitMessage>(a)) {
            s.message_committed("Q1");
        } else if (std::holds_alternative<action::Close>(a)) {
            FAIL("unexpected Close");
            return;
        }
    }
}

}  // namespace

TEST_CASE("session: an idle session releases the buffers of a large message") {
    std::string body;
    while (body.size() < 200 * 1024) body += "a line of the message body, long enough to fill reads\r\n";
    const std::string message =
        "HELO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n" + body + ".\r\n";
    struct Case {
        const char* name;
        std::size_t read_size;
    };
    for (const Case& c : {Case{"16 KiB reads", 16 * 1024}, Case{"one 200 KB read", message.size()}}) {
        CAPTURE(c.name);
        ServerSession s(trusted_options());
        run(s, message, c.read_size);
        CHECK(s.buffered() == 0);
        CHECK(s.buffer_capacity() <= 3 * 4096);
        // Still a working session afterwards.
        run(s, "NOOP\r\n", 16 * 1024);
        CHECK(s.buffer_capacity() <= 3 * 4096);
    }
}

namespace {

// Everything the session writes for `input` fed at once (no reads from
// the client side: the replies pile up), and the largest single Write.
struct Output {
    std::string all;
    std::size_t largest_write = 0;
    bool closed = false;
};

Output drain(ServerSession& s, const std::string& input) {
    Output out;
    s.feed(input);
    for (;;) {
        Action a = s.next();
        if (auto* w = std::get_if<action::Write>(&a)) {
            out.largest_write = std::max(out.largest_write, w->bytes.size());
            out.all += w->bytes;
        } else if (std::holds_alternative<action::BeginMessage>(a)) {
            s.message_begun(true);
        } else if (std::holds_alternative<action::CommitMessage>(a)) {
            s.message_committed("Q1");
        } else {
            out.closed = std::holds_alternative<action::Close>(a);
            return out;
        }
    }
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

std::string repeat(const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
}

}  // namespace

TEST_CASE("session: pipelined commands get their replies in writes of about 16 KiB, all of them, in order") {
    SessionOptions o = trusted_options();
    o.max_junk_commands = 1 << 20;  // this test is about output, not the junk limit
    ServerSession s(o);
    const std::size_t helps = 16 * 1024 / 6;  // one 16 KiB read of "HELP\r\n"
    Output out = drain(s, "EHLO c\r\n" + repeat("HELP\r\n", helps));
    CHECK_FALSE(out.closed);
    CHECK(count(out.all, "214 2.0.0 See") == helps);
    CHECK(out.all.size() > 64 * 1024);             // the amplification is real...
    CHECK(out.largest_write <= 16 * 1024 + 1024);  // ...but never held all at once
}

TEST_CASE("session: junk commands past the limit count as bad commands; an accepted message resets it") {
    const std::string message =
        "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n";
    SUBCASE("100 then a message then 100: the session goes on") {
        ServerSession s(trusted_options());
        Output out = drain(s, "EHLO c\r\n" + repeat("NOOP\r\n", 99) + message + repeat("NOOP\r\n", 100));
        CHECK_FALSE(out.closed);
        CHECK(count(out.all, "421 ") == 0);
    }
    SUBCASE("110 junk commands in a row: 421 and closed at the 10th past the limit") {
        ServerSession s(trusted_options());
        Output out = drain(s, "EHLO c\r\n" + repeat("NOOP\r\n", 109) + "NOOP\r\n" + "NOOP\r\n");
        CHECK(out.closed);
        CHECK(count(out.all, "421 4.7.0") == 1);
        CHECK(count(out.all, "250 2.0.0") == 109);  // EHLO + 99 NOOPs free, 10 more answered, then closed
    }
}
