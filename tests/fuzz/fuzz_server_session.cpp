// Fuzzes the whole ServerSession: the first byte picks the options, the
// second the feed pattern; the rest is what a client sends. A driver twin
// answers every action deterministically from the data it saw. Checked:
// no exception (logic_error = protocol bug), every write is whole reply
// lines, "queued as" only after a commit, bounded buffering and slices,
// and (without STARTTLS, whose discard depends on packet boundaries, and
// without spool write failures, whose timing does) the same transcript
// whether the input comes whole or in pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/server_session.hpp"

using namespace rp::protocol;

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

void check_write(const std::string& bytes) {
    require(!bytes.empty() && bytes.size() >= 2 && bytes.substr(bytes.size() - 2) == "\r\n");
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        const std::size_t e = bytes.find("\r\n", pos);
        require(e != std::string::npos && e - pos >= 4);
        require(bytes[pos] >= '2' && bytes[pos] <= '5');
        require(bytes[pos + 3] == ' ' || bytes[pos + 3] == '-');
        for (std::size_t i = pos; i < e; ++i) require(bytes[i] != '\n' && bytes[i] != '\r');
        pos = e + 2;
    }
}

std::size_t count(const std::string& s, std::string_view what) {
    std::size_t n = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

struct Transcript {
    std::string out;
    std::string events;
};

Transcript drive(const SessionOptions& opt, const std::vector<std::string_view>& pieces, bool check_bounds) {
    ServerSession s(opt);
    Transcript t;
    std::string content;
    std::size_t next = 0, commits = 0, largest_piece = 0;
    bool write_failed = false;
    for (int guard = 0; guard < 1000000; ++guard) {
        if (check_bounds) require(s.buffered() <= largest_piece + 12288);
        Action a = s.next();
        if (auto* w = std::get_if<action::Write>(&a)) {
            check_write(w->bytes);
            t.out += w->bytes;
        } else if (std::holds_alternative<action::NeedMore>(a)) {
            if (next == pieces.size()) break;
            largest_piece = std::max(largest_piece, pieces[next].size());
            s.feed(pieces[next++]);
        } else if (std::holds_alternative<action::StartTls>(a)) {
            t.events += "T";
            s.tls_started();
        } else if (auto* v = std::get_if<action::VerifyAuth>(&a)) {
            t.events += "A";
            s.auth_result(v->password.size() % 2 == 0);
        } else if (auto* b = std::get_if<action::BeginMessage>(&a)) {
            t.events += "B";
            content.clear();
            write_failed = false;
            s.message_begun(b->envelope.mail_from.empty() || b->envelope.mail_from[0] != 'f');
        } else if (auto* d = std::get_if<action::MessageData>(&a)) {
            require(!d->bytes.empty() && d->bytes.size() <= 64 * 1024);
            content.append(d->bytes);
            require(content.size() <= opt.max_message_size);
            if (!write_failed && content.find("WFAIL") != std::string::npos) {
                write_failed = true;
                s.message_write_failed();
            }
        } else if (std::holds_alternative<action::CommitMessage>(a)) {
            require(!write_failed);
            t.events += "C" + content;
            if (content.size() % 7 == 3) {
                s.message_failed();
            } else {
                ++commits;
                s.message_committed("Q");
            }
        } else if (std::holds_alternative<action::AbortMessage>(a)) {
            t.events += "X";
        } else if (std::holds_alternative<action::Close>(a)) {
            t.events += "Z";
            require(std::holds_alternative<action::Close>(s.next()));
            break;
        }
    }
    require(count(t.out, "queued as") == commits);
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    SessionOptions opt;
    opt.hostname = "fuzz.test";
    opt.tls = static_cast<TlsMode>(data[0] % 3);
    opt.require_auth = data[0] & 4;
    opt.client_trusted = data[0] & 8;
    opt.max_message_size = (data[0] & 16) ? 64 : 100000;
    opt.max_recipients = (data[0] & 32) ? 2 : 100;
    opt.max_bad_commands = (data[0] & 64) ? 3 : 10;
    const unsigned seed = data[1];
    std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

    std::vector<std::string_view> pieces;
    for (std::size_t pos = 0, step = seed % 5 + 1; pos < in.size();) {
        const std::size_t n = std::min(step, in.size() - pos);
        pieces.push_back(in.substr(pos, n));
        pos += n;
        step = (step * (seed | 1) + 7) % 61 + 1;
    }
    const Transcript split = drive(opt, pieces, true);
    // A spool write failure hits the slice that holds "WFAIL", and slices
    // differ between the runs (a 552 may legitimately win over a 452), so
    // inputs that fail writes are only checked for the invariants.
    if (opt.tls != TlsMode::starttls && in.find("WFAIL") == std::string_view::npos) {
        const Transcript whole = drive(opt, {in}, false);
        require(whole.out == split.out);
        require(whole.events == split.events);
    }
    return 0;
}
