// pool.state line sealing and parsing (see state_file.hpp).
#include "pool/state_file.hpp"

#include <cstdint>
#include <cstdio>

#include "common/checksum.hpp"

namespace rp::pool {

namespace {

std::string hex16(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// The body of a sealed line, or false when the seal is missing or wrong.
bool unseal(std::string_view line, std::string_view& body) {
    const auto mark = line.rfind(" #");
    if (mark == std::string_view::npos || line.size() - mark != 18) return false;
    body = line.substr(0, mark);
    return line.substr(mark + 2) == hex16(fnv1a64(body));
}

// Splits on single spaces; a record's reason (the last field of X and E
// records) keeps its spaces.
std::vector<std::string> split(std::string_view body) {
    std::vector<std::string> fields;
    const std::size_t max_fields = (body.starts_with("X ") ? 6 : body.starts_with("E ") ? 3 : SIZE_MAX);
    while (!body.empty()) {
        if (fields.size() + 1 == max_fields) {
            fields.emplace_back(body);
            break;
        }
        const auto sp = body.find(' ');
        fields.emplace_back(body.substr(0, sp));
        if (sp == std::string_view::npos) break;
        body.remove_prefix(sp + 1);
    }
    return fields;
}

}  // namespace

std::string seal(std::string_view body) {
    std::string out(body);
    out += " #";
    out += hex16(fnv1a64(body));
    out += '\n';
    return out;
}

std::string record(std::initializer_list<std::string_view> fields) {
    std::string body;
    for (std::string_view f : fields) {
        if (!body.empty()) body += ' ';
        for (char c : f) body += (c == '\n' || c == '\r') ? ' ' : c;
    }
    return seal(body);
}

ParsedState parse_state(std::string_view text) {
    ParsedState out;
    std::size_t broken_at = SIZE_MAX;  // line number of the first broken line
    std::size_t line_no = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        const bool complete = nl != std::string_view::npos;
        text.remove_prefix(complete ? nl + 1 : text.size());
        ++line_no;
        std::string_view body;
        if (!complete || !unseal(line, body)) {
            if (broken_at == SIZE_MAX) broken_at = line_no;
            ++out.dropped_lines;
            continue;
        }
        if (broken_at != SIZE_MAX) {
            out.status = ParsedState::Status::unreadable;
            out.problem = "damaged line " + std::to_string(broken_at) + " followed by intact ones";
            out.records.clear();
            return out;
        }
        // An intact line with no fields (" #" + the checksum of nothing)
        // never comes from the writer; it is no record.
        auto fields = split(body);
        if (!fields.empty()) out.records.push_back(std::move(fields));
    }
    if (broken_at == 1 || (out.records.empty() && line_no > 0)) {
        out.status = ParsedState::Status::unreadable;
        out.problem = "the first line is damaged";
        out.records.clear();
    } else if (broken_at != SIZE_MAX) {
        out.status = ParsedState::Status::torn_tail;
        out.problem = "torn tail: " + std::to_string(out.dropped_lines) + " line(s) dropped";
    }
    return out;
}

}  // namespace rp::pool
