// ServerSession resource behaviour: an idle session does not keep the buffer
// capacity of a large message it received before.
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
