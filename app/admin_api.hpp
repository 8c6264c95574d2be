// The admin API handler (/api/v1/..., SPEC.md "queue" and "pool" commands):
// routes each request (app/admin_route.hpp) to one Relay admin method and
// answers with its JSON; unknown routes get a JSON 404, wrong methods a 405,
// malformed ids or names a 400.
//
// Invariants: the handler runs on the io_context thread (HttpServer calls it
// there), which is where Relay must be used; it answers synchronously, once.
// The token check is the HttpServer's, before this handler is reached.
// Used by app/serve.cpp only.
#pragma once

#include "metrics/http_server.hpp"

namespace rp::relay {
class Relay;
}

namespace rp::app {

// `relay` must outlive the handler (serve.cpp: the relay outlives the HTTP server).
metrics::HttpServer::ApiHandler make_admin_handler(relay::Relay& relay);

}  // namespace rp::app
