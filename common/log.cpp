// Logging implementation: formats one line and writes it with a single
// write(2) under a mutex, so lines from different threads never interleave.
#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace rp::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<Format> g_format{Format::text};
std::mutex g_write_mutex;

constexpr std::string_view level_name(Level level) {
    switch (level) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info";
        case Level::warn:
            return "warn";
        case Level::error:
            return "error";
    }
    return "info";
}

std::string timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace

// JSON string escaping; also used for quoted text values, so control bytes
// from clients can never forge a log line.
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629:
// no overlongs, no surrogates, nothing above U+10FFFF), 0 when there is none.
std::size_t utf8_sequence(std::string_view s) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = byte(0);
    std::size_t n = 0;
    unsigned char low = 0x80, high = 0xbf;  // the allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) low = 0xa0;
        if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) low = 0x90;
        if (c == 0xf4) high = 0x8f;
    }
    if (n == 0 || s.size() < n || byte(1) < low || byte(1) > high) return 0;
    for (std::size_t i = 2; i < n; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
    return n;
}

}  // namespace

// Bytes that are not UTF-8 (an upstream's reply text, a description cut
// mid-character) become U+FFFD: a JSON reader (Boost.JSON in the CLI, log
// shippers) rejects the whole document otherwise.
void append_json_escaped(std::string& out, std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_sequence(s.substr(i));
            if (n == 0) {
                out += "\ufffd";
            } else {
                out.append(s.substr(i, n));
                i += n - 1;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += fmt::format("\\u{:04x}", c);
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
}

namespace {

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v) {
        if (c <= 0x20 || c == '"' || c == '\\' || c == '=' || c >= 0x7f) return true;
    }
    return false;
}

std::string format_text(Level level, std::string_view component, std::string_view message,
                        std::initializer_list<Field> fields) {
    std::string line = timestamp();
    line += ' ';
    line += level_name(level);
    line += ' ';
    line += component;
    line += ": ";
    append_json_escaped(line, message);
    for (const auto& [key, value] : fields) {
        line += ' ';
        line += key;
        line += '=';
        if (needs_quotes(value)) {
            line += '"';
            append_json_escaped(line, value);
            line += '"';
        } else {
            line += value;
        }
    }
    line += '\n';
    return line;
}

std::string format_json(Level level, std::string_view component, std::string_view message,
                        std::initializer_list<Field> fields) {
    std::string line = "{\"ts\":\"" + timestamp() + "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"component\":\"";
    append_json_escaped(line, component);
    line += "\",\"msg\":\"";
    append_json_escaped(line, message);
    line += '"';
    for (const auto& [key, value] : fields) {
        line += ",\"";
        append_json_escaped(line, key);
        line += "\":\"";
        append_json_escaped(line, value);
        line += '"';
    }
    line += "}\n";
    return line;
}

}  // namespace

void configure(Level level, Format format) {
    g_level = static_cast<int>(level);
    g_format = format;
}

bool enabled(Level level) {
    return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields) {
    std::string line = g_format == Format::json ? format_json(level, component, message, fields)
                                                : format_text(level, component, message, fields);
    std::lock_guard lock(g_write_mutex);
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n <= 0) break;
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace rp::log
