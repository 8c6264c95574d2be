// PLACEHOLDER until app/serve.cpp (engineer S) exists: lets the relaypool
// binary link so that check-config and hash-password work. Delete this file
// when serve.cpp lands; `relaypool serve` fails with exit code 1 meanwhile.
#include "app/serve.hpp"
#include "common/log.hpp"

namespace rp::app {

int serve(const config::Config&, const std::string&) {
    log::error("main", "serve: the server is not built yet");
    return 1;
}

}  // namespace rp::app
