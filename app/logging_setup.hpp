// Applies config.logging (level, format) to common/log. Used at start
// (app/cli_commands.cpp) and on SIGHUP (app/serve.cpp).
#pragma once

#include "common/log.hpp"
#include "config/config.hpp"

namespace rp::app {

inline log::Level to_log_level(config::LogLevel level) {
    switch (level) {
        case config::LogLevel::debug:
            return log::Level::debug;
        case config::LogLevel::info:
            return log::Level::info;
        case config::LogLevel::warn:
            return log::Level::warn;
        case config::LogLevel::error:
            return log::Level::error;
    }
    return log::Level::info;
}

inline void configure_logging(const config::Logging& logging) {
    log::configure(to_log_level(logging.level),
                   logging.format == config::LogFormat::json ? log::Format::json : log::Format::text);
}

}  // namespace rp::app
