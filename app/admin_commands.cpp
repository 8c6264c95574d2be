// `relaypool queue ...` and `relaypool pool ...`: one admin API request each
// (app/admin_client.hpp), rendered for people (app/admin_render.hpp) or, with
// --json, the server's JSON as it came.
//
// Exit codes (SPEC.md): 0 success; 1 the server refused the operation
// (unknown id or account, a delivery running, engine stopped); 2 a bad
// --admin URL; 3 the server could not be reached or refused the token.
// The token (--token or $RELAYPOOL_ADMIN_TOKEN) is a secret: never printed.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/admin_client.hpp"
#include "app/admin_render.hpp"
#include "app/admin_route.hpp"
#include "app/cli.hpp"

namespace rp::app {
namespace {

enum class Shape { queue_list, queue_show, pool_status, change };

struct Plan {
    std::string method;
    std::string path;  // under the URL's prefix
    Shape shape;
};

// The command words were checked by cli.cpp (admin_usage_error).
Plan plan(const Options& o) {
    const auto& w = o.words;
    const std::string arg = w.size() > 2 ? admin::url_encode(w[2]) : "";
    if (w[0] == "queue") {
        if (w[1] == "list") return {"GET", "/api/v1/queue", Shape::queue_list};
        if (w[1] == "show") return {"GET", "/api/v1/queue/" + arg, Shape::queue_show};
        if (w[1] == "retry" && o.all) return {"POST", "/api/v1/queue/retry", Shape::change};
        if (w[1] == "retry") return {"POST", "/api/v1/queue/" + arg + "/retry", Shape::change};
        return {"DELETE", "/api/v1/queue/" + arg, Shape::change};
    }
    if (w[1] == "status") return {"GET", "/api/v1/pool", Shape::pool_status};
    return {"POST", "/api/v1/pool/" + arg + "/" + w[1], Shape::change};
}

std::optional<std::string> render(Shape shape, const std::string& body) {
    switch (shape) {
        case Shape::queue_list:
            return admin::render_queue_list(body);
        case Shape::queue_show:
            return admin::render_queue_show(body);
        case Shape::pool_status:
            return admin::render_pool_status(body);
        case Shape::change:
            return admin::render_change(body);
    }
    return std::nullopt;
}

std::string command_text(const Options& o) {
    std::string out;
    for (const auto& w : o.words) {
        if (!out.empty()) out += ' ';
        out += admin::one_line(w);
    }
    return o.all ? out + " --all" : out;
}

std::string token_of(const Options& o) {
    if (o.token) return *o.token;
    const char* env = std::getenv("RELAYPOOL_ADMIN_TOKEN");
    return env ? env : "";
}

int refused(const Options& o, const admin::Reply& reply) {
    auto why = admin::error_text(reply.body);
    // An id the server does not know: most often a message already delivered.
    if (reply.status == 404 && why == "no such message" && o.words[0] == "queue" && o.words.size() == 3)
        why = admin::not_in_queue_text(o.words[2]);
    std::cerr << "relaypool: " << command_text(o) << ": "
              << (why ? *why : "the admin API answered HTTP " + std::to_string(reply.status)) << "\n";
    return exit_failure;
}

int print_success(const Options& o, Shape shape, const admin::Reply& reply) {
    if (o.json) {
        std::cout << reply.body << (reply.body.ends_with('\n') ? "" : "\n");
        return exit_ok;
    }
    auto text = render(shape, reply.body);
    // The relay answers {"retried":0} for a message whose delivery is running.
    if (text && o.words[1] == "retry" && !o.all && *text == "retried 0 messages\n")
        text = "retried 0 messages: " + admin::one_line(o.words[2]) + " is being delivered right now\n";
    if (!text) {
        std::cerr << "relaypool: " << command_text(o) << ": unexpected answer from the admin API\n";
        return exit_failure;
    }
    std::cout << *text;
    return exit_ok;
}

// `queue list`: every page, oldest first (the server answers at most
// kPage messages per request, read off its event loop).
constexpr int kPage = 1000;

admin::CallResult list_all(const admin::AdminUrl& url, const std::string& path, const std::string& token) {
    std::vector<std::string> pages;
    std::string after;
    while (true) {
        std::string query = path + "?limit=" + std::to_string(kPage);
        if (!after.empty()) query += "&after=" + admin::url_encode(after);
        auto result = admin::call(url, "GET", query, token);
        if (!result.reply || result.reply->status != 200) return result;
        auto next = admin::next_page_after(result.reply->body);
        pages.push_back(std::move(result.reply->body));
        if (!next || next->empty() || *next == after) {
            auto joined = admin::join_queue_pages(pages);
            result.reply->body = joined ? *joined : pages.back();
            return result;
        }
        after = *next;
    }
}

}  // namespace

int run_admin_command(const Options& options) {
    auto url = admin::parse_admin_url(options.admin.value_or(admin::default_admin_url));
    if (!url.url) {
        std::cerr << "relaypool: " << url.error << "\n";
        return exit_usage;
    }
    const std::string token = token_of(options);
    const Plan p = plan(options);
    auto result = p.shape == Shape::queue_list ? list_all(*url.url, p.path, token)
                                               : admin::call(*url.url, p.method, p.path, token);
    if (!result.reply) {
        std::cerr << "relaypool: " << result.error << "\n";
        return exit_unreachable;
    }
    const admin::Reply& reply = *result.reply;
    if (reply.status == 401) {
        std::cerr << "relaypool: the admin API at " << url.url->text
                  << (token.empty() ? " needs a token: pass --token TOKEN or set RELAYPOOL_ADMIN_TOKEN\n"
                                    : " refused the token\n");
        return exit_unreachable;
    }
    if (reply.status < 200 || reply.status > 299) return refused(options, reply);
    return print_success(options, p.shape, reply);
}

}  // namespace rp::app
