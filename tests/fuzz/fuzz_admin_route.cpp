// Fuzzes the admin API's request handling without sockets, the parts that read
// what an HTTP client sends: the request line "METHOD TARGET[ ...]", split as
// metrics/http_server.cpp does (path before '?', query after it), routed by
// app/admin_route; the listing's query string (parse_page_query); and who may
// ask (metrics/admin_access) from the lines after it: "Origin: ...",
// "Host: ...", "Bind: ..." (metrics.address's host), "Token" (a token is
// configured), "Remote" (the peer is not loopback).
// Properties:
// - a route is an action with a well-formed argument or a 400/404/405 with its
//   message (405 with Allow); a trailing '/' routes as without it; the
//   client's url_encode of the argument routes back to the same action;
// - url_decode(url_encode(x)) == x for any x without NUL; no %00 decodes to NUL;
// - a page query is an error or a limit in 1..max with an empty or valid
//   `after`, and the query the CLI builds for them parses back to them;
// - without a token, an allowed Host names metrics.address's host, "localhost[.]"
//   or an address that getaddrinfo(AI_NUMERICHOST), a second parser, reads
//   as loopback: never a name a DNS answer could point here; an allowed
//   Origin is "http://" + that Host; dropping the Origin header never turns
//   an allowed request into a refused one; refusals are one line. (With a
//   token, or from a remote peer, the answer does not depend on the headers:
//   tests/metrics covers those.)
#include <netdb.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "app/admin_route.hpp"
#include "metrics/admin_access.hpp"

using namespace rp::app::admin;

static void require(bool ok) {
    if (!ok) std::abort();
}

static bool one_line(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    return true;
}

static std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// The oracle for is_loopback_host: libc's own numeric-address parser (no DNS),
// then the address itself.
static bool numeric_loopback(const std::string& host) {
    std::string h = host;
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST;
    addrinfo* res = nullptr;
    if (::getaddrinfo(h.c_str(), nullptr, &hints, &res) != 0) return false;
    bool loop = false;
    if (res->ai_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
        loop = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else if (res->ai_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(res->ai_addr);
        loop = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
    }
    ::freeaddrinfo(res);
    return loop;
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

static void check_route(std::string_view method, std::string_view path) {
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
        require((r.status == 405) == !r.allow.empty() && one_line(r.error));
    }
    if (!path.ends_with('/')) {
        const Route slash = route(method, std::string(path) + "/");
        require(slash.action == r.action && slash.argument == r.argument && slash.status == r.status);
    }
}

static void check_page_query(std::string_view query) {
    constexpr std::size_t kDefault = 100, kMax = 1000;  // relay::Relay::kDefaultPage, kMaxPage
    const PageQuery q = parse_page_query(query, kDefault, kMax);
    if (!q.error.empty()) {
        require(one_line(q.error));
        return;
    }
    require(q.limit >= 1 && q.limit <= kMax && (q.after.empty() || valid_message_id(q.after)));
    // As app/admin_commands.cpp builds it.
    std::string built = "limit=" + std::to_string(q.limit);
    if (!q.after.empty()) built += "&after=" + url_encode(q.after);
    const PageQuery again = parse_page_query(built, kDefault, kMax);
    require(again.error.empty() && again.limit == q.limit && again.after == q.after);
}

static void check_access(std::string_view headers) {
    rp::metrics::AdminRequestFacts facts;
    facts.peer_is_loopback = true;
    facts.configured_host = "127.0.0.1";
    while (!headers.empty()) {
        const std::size_t nl = headers.find('\n');
        std::string_view line = headers.substr(0, nl);
        headers = nl == std::string_view::npos ? std::string_view() : headers.substr(nl + 1);
        if (line.ends_with('\r')) line.remove_suffix(1);
        if (line.starts_with("Origin: ")) facts.origin = std::string(line.substr(8));
        if (line.starts_with("Host: ")) facts.host = std::string(line.substr(6));
        if (line.starts_with("Bind: ")) facts.configured_host = std::string(line.substr(6));
        if (line == "Token") facts.token_configured = true;
        if (line == "Remote") facts.peer_is_loopback = false;
    }
    const std::string refusal = rp::metrics::admin_refusal(facts);
    require(one_line(refusal));
    if (refusal.empty() && !facts.token_configured && facts.host) {
        const auto host = rp::metrics::authority_host(*facts.host);
        require(host.has_value());
        require(*host == lowercase(facts.configured_host) || *host == "localhost" || *host == "localhost." ||
                numeric_loopback(*host));
    }
    if (refusal.empty() && !facts.token_configured && facts.origin) {
        require(facts.host && lowercase(*facts.origin).starts_with("http://"));
        std::string_view rest = std::string_view(*facts.origin).substr(7);
        if (rest.ends_with('/')) rest.remove_suffix(1);
        require(lowercase(rest) == lowercase(*facts.host));
    }
    if (refusal.empty() && facts.origin) {
        facts.origin.reset();
        require(rp::metrics::admin_refusal(facts).empty());
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::size_t eol = in.find('\n');
    const std::string_view request_line = in.substr(0, eol);
    const std::string_view headers = eol == std::string_view::npos ? std::string_view() : in.substr(eol + 1);
    const std::size_t sp = request_line.find(' ');
    const std::string_view method = request_line.substr(0, sp);
    std::string_view target = sp == std::string_view::npos ? "" : request_line.substr(sp + 1);
    target = target.substr(0, target.find(' '));
    const std::size_t q = target.find('?');
    check_route(method, target.substr(0, q));
    if (q != std::string_view::npos) check_page_query(target.substr(q + 1));
    check_access(headers);
    // (A raw NUL never reaches the router: Beast refuses control bytes in
    // the target. Only a decoded %00 must be refused.)
    if (in.find('\0') != std::string_view::npos) return 0;
    require(url_decode(url_encode(in)) == std::string(in));
    if (auto d = url_decode(in)) require(d->find('\0') == std::string::npos);
    return 0;
}
