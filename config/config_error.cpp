// ConfigError: the one error type of the configuration loader. The message
// is always one line (check-config prints it as FILE:LINE:COL: message):
// control bytes other than HT, which a quoted value or yaml-cpp's own text
// may carry (found by fuzz_config), are shown as '?'.
#include "config/config.hpp"

namespace rp::config {
namespace {

std::string one_line(std::string text) {
    for (char& c : text)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = '?';
    return text;
}

}  // namespace

ConfigError::ConfigError(std::string file, int line, int column, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                         one_line(message)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      message_(one_line(message)) {}

}  // namespace rp::config
