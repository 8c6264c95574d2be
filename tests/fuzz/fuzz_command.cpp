// Fuzzes the SMTP command-line parser and the path parser: every input line
// must give a Command or a well-formed 5xx reply, and parsed addresses must
// never carry bytes that could break a later protocol line and must survive
// being written back as "<address>".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/address.hpp"
#include "protocol/smtp_command.hpp"

using namespace rp::protocol;

static void require(bool ok) {
    if (!ok) std::abort();
}

static void check_address(const PathResult& p, std::size_t input_size) {
    require(p.consumed <= input_size);
    if (!p.ok()) return;
    require(p.address.size() <= kMaxPathLength);
    for (char c : p.address) require(c != '\r' && c != '\n' && c != '\0');
    // The address re-parses to itself when written back as a path (what the
    // relay does when it sends MAIL FROM / RCPT TO upstream).
    if (!p.null_path) {
        const std::string path = "<" + p.address + ">";
        PathResult again = parse_path(path, false, p.utf8);
        require(again.ok() && again.address == p.address && again.consumed == path.size());
    }
    if (!p.utf8)
        for (char c : p.address) require(static_cast<unsigned char>(c) < 0x80);
    if (p.utf8) require(is_valid_utf8(p.address));
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    while (!in.empty()) {
        const std::size_t lf = in.find('\n');
        std::string_view line = in.substr(0, lf);
        in = lf == std::string_view::npos ? std::string_view{} : in.substr(lf + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        ParseResult r = parse_command(line);
        if (r.ok()) {
            if (r.command->verb == Verb::mail) check_address(r.command->mail.path, line.size());
            if (r.command->verb == Verb::rcpt) {
                check_address(r.command->rcpt.path, line.size());
                require(!r.command->rcpt.path.null_path);
            }
        } else {
            require(r.error.code >= 500 && r.error.code <= 555);
            require(!r.error.enhanced.empty() && r.error.enhanced[0] == '5');
            const std::string wire = r.error.format();
            require(wire.size() >= 2 && wire.find('\n') == wire.size() - 1);
        }
        for (bool null_ok : {false, true})
            for (bool utf8_ok : {false, true}) check_address(parse_path(line, null_ok, utf8_ok), line.size());
    }
    return 0;
}
