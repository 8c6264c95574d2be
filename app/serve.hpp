// `relaypool serve`: runs the relay until SIGTERM. Owned by app/serve.cpp,
// the one place that wires listeners, spool, relay engine, metrics and the
// admin API together. Returns the process exit code.
#pragma once

#include <string>

#include "config/config.hpp"

namespace rp::app {

int serve(const config::Config& config, const std::string& config_path);

}  // namespace rp::app
