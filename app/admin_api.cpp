// Admin API handler (see admin_api.hpp). Mutating requests are logged (the
// relay logs what they changed); reads are not.
#include "app/admin_api.hpp"

#include <boost/json.hpp>

#include "app/admin_route.hpp"
#include "common/log.hpp"
#include "relay/relay.hpp"

namespace rp::app {
namespace {

constexpr const char* kJson = "application/json";

metrics::HttpResponse json_response(int status, std::string body) {
    body += '\n';
    return {status, kJson, std::move(body)};
}

metrics::HttpResponse json_error(int status, const std::string& message) {
    return json_response(status, boost::json::serialize(boost::json::object{{"error", message}}));
}

relay::AdminResponse dispatch(relay::Relay& relay, const admin::Route& r) {
    using admin::Action;
    switch (*r.action) {
        case Action::queue_retry:
            return relay.queue_retry(r.argument);
        case Action::queue_retry_all:
            return relay.queue_retry_all();
        case Action::queue_delete:
            return relay.queue_delete(r.argument);
        case Action::pool_status:
            return relay.pool_status();
        case Action::pool_pause:
            return relay.pool_pause(r.argument);
        case Action::pool_resume:
            return relay.pool_resume(r.argument);
        case Action::queue_list:
        case Action::queue_show:
            break;  // answered later (handle)
    }
    return {500, R"({"error":"unhandled route"})"};
}

void answer(const metrics::HttpRequest& request, relay::AdminResponse a,
            const metrics::HttpServer::Respond& respond) {
    if (request.method != "GET")
        log::info("admin", "admin request",
                  {{"method", request.method}, {"path", request.path}, {"status", std::to_string(a.status)}});
    respond(json_response(a.status, std::move(a.body)));
}

void handle(relay::Relay& relay, const metrics::HttpRequest& request, metrics::HttpServer::Respond respond) {
    admin::Route r = admin::route(request.method, request.path);
    if (!r.action) return respond(json_error(r.status, r.error));
    if (*r.action == admin::Action::queue_list) {
        auto page =
            admin::parse_page_query(request.query, relay::Relay::kDefaultPage, relay::Relay::kMaxPage);
        if (!page.error.empty()) return respond(json_error(400, page.error));
        return relay.queue_list(page.after, page.limit, [respond](relay::AdminResponse a) {
            respond(json_response(a.status, std::move(a.body)));
        });
    }
    if (*r.action == admin::Action::queue_show)
        return relay.queue_show(r.argument, [respond](relay::AdminResponse a) {
            respond(json_response(a.status, std::move(a.body)));
        });
    answer(request, dispatch(relay, r), respond);
}

}  // namespace

metrics::HttpServer::ApiHandler make_admin_handler(relay::Relay& relay) {
    return [&relay](const metrics::HttpRequest& request, metrics::HttpServer::Respond respond) {
        handle(relay, request, std::move(respond));
    };
}

}  // namespace rp::app
