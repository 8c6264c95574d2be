// Fuzzes the admin API's routing without sockets: the input is a request line
// "METHOD TARGET[ ...]", split as metrics/http_server.cpp does (path before
// '?', query after it) and routed by app/admin_route. Properties: a route is
// an action with a well-formed argument or a 400/404/405 with its message
// (405 with Allow); a trailing '/' routes as without it; the client's
// url_encode of the argument routes back to the same action and argument;
// url_decode(url_encode(x)) == x for any x without NUL, and no %00 decodes
// to a NUL. (No admin route reads the query yet: the server drops it.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/admin_route.hpp"

using namespace rp::app::admin;

static void require(bool ok) {
    if (!ok) std::abort();
}

// The path the admin client builds for an action and its (encoded) argument.
static std::string path_for(Action a, const std::string& arg) {
    const std::string e = url_encode(arg);
    switch (a) {
        case Action::queue_show:
        case Action::queue_delete:
            return "/api/v1/queue/" + e;
        case Action::queue_retry:
            return "/api/v1/queue/" + e + "/retry";
        case Action::pool_pause:
            return "/api/v1/pool/" + e + "/pause";
        case Action::pool_resume:
            return "/api/v1/pool/" + e + "/resume";
        default:
            return "";
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t sp = in.find(' ');
    const std::string_view method = in.substr(0, sp);
    std::string_view target = sp == std::string_view::npos ? "" : in.substr(sp + 1);
    target = target.substr(0, target.find(' '));
    const std::size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const Route r = route(method, path);
    if (r.action) {
        require(r.status == 200 && r.error.empty());
        for (char c : r.argument) require(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
        const std::string again_path = path_for(*r.action, r.argument);
        if (!again_path.empty()) {
            const Route again = route(method, again_path);
            require(again.action == r.action && again.argument == r.argument);
        }
    } else {
        require((r.status == 400 || r.status == 404 || r.status == 405) && !r.error.empty());
        require((r.status == 405) == !r.allow.empty());
    }
    if (!path.ends_with('/')) {
        const Route slash = route(method, std::string(path) + "/");
        require(slash.action == r.action && slash.argument == r.argument && slash.status == r.status);
    }
    // (A raw NUL never reaches the router: Beast refuses control bytes in
    // the target. Only a decoded %00 must be refused.)
    if (in.find('\0') != std::string_view::npos) return 0;
    require(url_decode(url_encode(in)) == std::string(in));
    if (auto d = url_decode(in)) require(d->find('\0') == std::string::npos);
    return 0;
}
