// Fuzzes what a hostile upstream's replies turn into: the reply stream is
// parsed (UpstreamReplyParser), each reply becomes one recipient's outcome
// (first byte: stages, sender_rewrite, a session failure), then
// relay/delivery_outcome matches, classifies and tallies them, and the
// bounced ones go into the DSN (protocol::build_dsn, as relay/bounce.cpp
// calls it). Properties: one outcome per sent recipient; describe() and the
// attempt summary are one line; the state that records them survives the
// spool's state-file round trip; the DSN has CRLF line ends only and no line
// above 998 octets, whatever text the upstream sent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/dsn.hpp"
#include "protocol/upstream_reply.hpp"
#include "relay/delivery_outcome.hpp"
#include "spool/spool_format.hpp"

using namespace rp;

static void require(bool ok) {
    if (!ok) std::abort();
}

static void check_dsn(const std::string& dsn) {
    std::size_t start = 0;
    for (std::size_t i = 0; i < dsn.size(); ++i) {
        if (dsn[i] == '\r') require(i + 1 < dsn.size() && dsn[i + 1] == '\n');
        if (dsn[i] != '\n') continue;
        require(i > 0 && dsn[i - 1] == '\r' && i - 1 - start <= 998);
        start = i + 1;
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const unsigned knobs = data[0];
    protocol::UpstreamReplyParser parser(512, 20);
    parser.feed(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    spool::QueuedMessage m;
    m.envelope.spec.mail_from = "app@example.com";
    relay::DeliveryReport report;
    protocol::UpstreamReply reply;
    for (std::size_t i = 0; i < 8 && parser.next(reply) == protocol::ReplyParseStatus::reply; ++i) {
        protocol::UpstreamOutcome o{static_cast<protocol::Stage>((knobs + i) % 12), reply.code,
                                    reply.enhanced, reply.text()};
        require(relay::describe(o).find_first_of("\r\n") == std::string::npos);
        m.envelope.spec.recipients.push_back(
            {"r" + std::to_string(i) + "@example.org", i % 2 ? "" : "FAILURE", ""});
        report.recipients.push_back({m.envelope.spec.recipients.back().address, o});
        if (knobs & 0x80) report.session_failure = o;
    }
    const std::size_t n = m.envelope.spec.recipients.size();
    m.state = spool::DeliveryState::fresh(n);
    std::vector<std::size_t> sent;
    for (std::size_t i = 0; i < n; ++i) sent.push_back(i);
    const auto rewrite = static_cast<config::SenderRewrite>((knobs >> 4) % 3);
    const auto outcomes = relay::match_results(m, sent, report, rewrite);
    require(outcomes.size() == n);
    const relay::Tally t = relay::tally(outcomes, m.state, "acct@example.com");
    require(t.delivered + t.bounced.size() <= n);
    const std::string summary = relay::summarize(t, n);
    require(!summary.empty() && summary.find_first_of("\r\n") == std::string::npos);
    m.state.history.push_back({WallTime{}, "acct@example.com", summary});
    const std::string state_file = spool::format::encode_state(m.state);
    require(spool::format::decode_state(state_file, n).ok);
    if (t.bounced.empty()) return 0;
    protocol::DsnInput in;
    in.reporting_mta = "relay.example";
    in.envelope_sender = m.envelope.spec.mail_from;
    in.boundary = "b0undary";
    in.message_id = "<dsn@relay.example>";
    in.original = "Subject: hi\r\n\r\nbody\r\n";
    in.reason = "the upstream refused it";
    for (const auto& b : t.bounced)
        in.recipients.push_back({m.envelope.spec.recipients.at(b.index).address, "rfc822;x@y",
                                 protocol::DsnAction::failed, b.reply, b.status, "smtp.example.net"});
    check_dsn(protocol::build_dsn(in));
    return 0;
}
