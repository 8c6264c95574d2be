// `relaypool serve`: runs the relay until SIGTERM. Owned by app/serve.cpp,
// the one place that wires listeners, spool, relay engine, metrics and the
// admin API together. Returns the process exit code.
#pragma once

#include <functional>
#include <string>

#include "config/config.hpp"

namespace rp::app {

// Where SIGHUP gets the next configuration: the file again, or the
// embedded sandbox configuration. Throws config::ConfigError to refuse.
using ConfigSource = std::function<config::Config()>;

// `source_name` names the configuration in logs (a path or "<sandbox>").
int serve(const config::Config& config, const std::string& source_name, ConfigSource reload_source);

}  // namespace rp::app
