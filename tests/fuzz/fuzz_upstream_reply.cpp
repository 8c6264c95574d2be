// Fuzzes the upstream side: the input is whatever an upstream server might
// send. It goes (1) through UpstreamReplyParser + parse_ehlo in odd-sized
// pieces, and (2) as the server's half of a whole ClientSession conversation
// (TLS and body requests answered by the harness). Neither may crash, hang or
// leak, and the session must end (Failed / Done / Idle) once input runs out.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/client_session.hpp"
#include "protocol/upstream_reply.hpp"

using namespace rp::protocol;

static void parse_replies(std::string_view in) {
    UpstreamReplyParser parser(512, 50);
    UpstreamReply reply;
    std::size_t pos = 0, step = 1;
    while (pos < in.size()) {
        const std::size_t n = std::min(step, in.size() - pos);
        parser.feed(in.substr(pos, n));
        pos += n;
        step = step * 3 % 17 + 1;
        ReplyParseStatus st;
        while ((st = parser.next(reply)) == ReplyParseStatus::reply)
            (void)parse_ehlo(reply).offers_auth("PLAIN");
        if (st == ReplyParseStatus::error) return;
    }
}

static void converse(std::string_view in) {
    ClientConfig config;
    config.ehlo_hostname = "relay.example";
    config.tls = in.size() % 2 ? ClientTls::starttls : ClientTls::none;
    config.credentials = ClientCredentials{AuthMechanism::automatic, "u@example.com", "p"};
    config.bdat_chunk_size = 8;
    ClientSession s(config);
    OutgoingMessage m;
    m.mail_from = "u@example.com";
    m.recipients = {"a@example.org", "b@example.org"};
    m.filter.strip_headers = {"Received"};
    std::size_t pos = 0, body_pieces = 0;
    bool begun = false;
    for (int i = 0; i < 100000; ++i) {
        ClientAction a = s.next();
        if (std::holds_alternative<client_action::Write>(a)) continue;
        if (std::holds_alternative<client_action::ReadReply>(a)) {
            if (pos >= in.size()) {
                s.on_failure(LocalFailure::timeout, "end of input");
                continue;
            }
            const std::size_t n =
                std::min<std::size_t>(1 + static_cast<unsigned char>(in[pos]) % 64, in.size() - pos);
            s.on_bytes(in.substr(pos, n));
            pos += n;
        } else if (std::holds_alternative<client_action::StartTls>(a)) {
            s.tls_established();
        } else if (std::holds_alternative<client_action::SendBody>(a)) {
            if (body_pieces++ < 3)
                s.body_data("Received: x\r\n\r\n.body\r\n");
            else
                s.body_end();
        } else if (std::holds_alternative<client_action::Idle>(a)) {
            (void)s.take_message_result();
            if (!begun) {
                begun = s.begin_message(m);
                body_pieces = 0;
            } else {
                s.quit();
            }
        } else {
            (void)s.take_message_result();
            // The session's own stall (a local failure, no reply): an internal
            // state with nothing to do, a session bug. (An upstream may send
            // "550 client session stalled" too: a reply, not a stall.)
            if (auto* f = std::get_if<client_action::Failed>(&a);
                f && f->outcome.code == 0 && f->outcome.local == LocalFailure::protocol &&
                f->outcome.text == "client session stalled")
                __builtin_trap();
            if (auto* f = std::get_if<client_action::Failed>(&a);
                f && f->outcome.code / 100 == 2 && f->outcome.local == LocalFailure::none)
                __builtin_trap();  // a 2xx session failure would classify as delivered
            return;
        }
    }
    __builtin_trap();  // the session never settled: a livelock
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    parse_replies(in);
    converse(in);
    return 0;
}
