// Logging: one line per event on stderr, with a UTC timestamp, a level and a
// component on every line; `text` or `json` format (SPEC.md logging.*).
//
// Rules (HACKING.md): untrusted input goes in a field, never in the message
// text, so it is quoted/escaped; secrets and AUTH payloads are never logged.
// Thread-safe; cheap when the level is filtered out.
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace rp::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

void configure(Level level, Format format);

// Appends `s` JSON-escaped (RFC 8259, without the quotes); control bytes
// become \u00XX, each byte that is not part of well-formed UTF-8 becomes
// U+FFFD. Shared with the admin API's JSON writer.
void append_json_escaped(std::string& out, std::string_view s);
bool enabled(Level level);

using Field = std::pair<std::string_view, std::string_view>;

// write(Level::info, "smtpd", "accepted", {{"id", id}, {"client", addr}})
//   text: 2026-11-25T19:00:00.123Z info smtpd: accepted id=ABC client="1.2.3.4"
//   json: {"ts":"...","level":"info","component":"smtpd","msg":"accepted","id":"ABC",...}
void write(Level level, std::string_view component, std::string_view message,
           std::initializer_list<Field> fields = {});

inline void debug(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::debug)) write(Level::debug, c, m, f);
}
inline void info(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::info)) write(Level::info, c, m, f);
}
inline void warn(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::warn)) write(Level::warn, c, m, f);
}
inline void error(std::string_view c, std::string_view m, std::initializer_list<Field> f = {}) {
    if (enabled(Level::error)) write(Level::error, c, m, f);
}

}  // namespace rp::log
