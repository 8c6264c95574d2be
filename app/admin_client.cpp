// Admin API client (see admin_client.hpp): Beast over a plain TCP socket.
// The exchange is one coroutine on a private io_context, run for at most the
// timeout; whatever has not finished by then is a timeout.
#include "app/admin_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <charconv>

namespace rp::app::admin {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t kMaxBody = 64u << 20;  // a queue listing of a very full spool

UrlResult bad_url(std::string_view text, const std::string& why) {
    return {std::nullopt, "--admin \"" + std::string(text) + "\": " + why};
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

struct Exchange {
    const AdminUrl& url;
    http::request<http::string_body> request;
    std::chrono::steady_clock::time_point deadline;
    std::optional<CallResult> result;
};

std::string reach_error(const AdminUrl& url, std::string_view step, const boost::system::error_code& ec) {
    const bool timeout = ec == beast::error::timeout;
    std::string why = timeout ? "timed out" : ec.message();
    if (step == "read" && !timeout)
        return "no valid HTTP answer from the admin API at " + url.text + " (" + why + ")";
    return "cannot reach the admin API at " + url.text + " (" + std::string(step) + ": " + why + ")";
}

net::awaitable<void> exchange(Exchange& x) {
    auto ex = co_await net::this_coro::executor;
    tcp::resolver resolver(ex);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(x.url.host, std::to_string(x.url.port), use_tuple);
    if (rec) {
        x.result = CallResult{std::nullopt, reach_error(x.url, "resolve", rec)};
        co_return;
    }
    beast::tcp_stream stream(ex);
    stream.expires_at(x.deadline);
    auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
    if (cec) {
        x.result = CallResult{std::nullopt, reach_error(x.url, "connect", cec)};
        co_return;
    }
    auto [wec, wn] = co_await http::async_write(stream, x.request, use_tuple);
    if (wec) {
        x.result = CallResult{std::nullopt, reach_error(x.url, "send", wec)};
        co_return;
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [rec2, rn] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (rec2) {
        x.result = CallResult{std::nullopt, reach_error(x.url, "read", rec2)};
        co_return;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    auto& res = parser.get();
    x.result = CallResult{Reply{static_cast<int>(res.result_int()), std::move(res.body())}, ""};
}

}  // namespace

UrlResult parse_admin_url(std::string_view text) {
    constexpr std::string_view scheme = "http://";
    if (text.starts_with("https://"))
        return bad_url(text, "https is not supported; the admin API is plain http");
    if (!text.starts_with(scheme)) return bad_url(text, "expected http://HOST:PORT");
    std::string_view rest = text.substr(scheme.size());
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    while (path.ends_with('/')) path.remove_suffix(1);
    if (path.find_first_of("?#") != std::string_view::npos)
        return bad_url(text, "no query or fragment allowed");
    if (authority.find('@') != std::string_view::npos) return bad_url(text, "no user info allowed");

    AdminUrl url;
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return bad_url(text, "unclosed '[' in the host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) return bad_url(text, "expected ':' after ']'");
        if (!after.empty()) port = after.substr(1);
        if (after == ":") return bad_url(text, "empty port");
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) return bad_url(text, "empty port");
    }
    if (host.empty()) return bad_url(text, "no host");
    if (!port.empty()) {
        auto p = parse_port(port);
        if (!p) return bad_url(text, "port must be 1..65535");
        url.port = *p;
    }
    url.host = std::string(host);
    url.prefix = std::string(path);
    url.text = std::string(text);
    return {std::move(url), ""};
}

CallResult call(const AdminUrl& url, std::string_view method, std::string_view path, const std::string& token,
                std::chrono::milliseconds timeout) {
    // x outlives io: io's destructor destroys an unfinished exchange's frame.
    Exchange x{url, {}, std::chrono::steady_clock::now() + timeout, std::nullopt};
    net::io_context io(1);
    x.request.method_string(method);
    x.request.target(url.prefix + std::string(path));
    x.request.version(11);
    x.request.set(http::field::host,
                  url.host.find(':') == std::string::npos ? url.host : "[" + url.host + "]");
    x.request.set(http::field::user_agent, "relaypool-cli");
    x.request.set(http::field::accept, "application/json");
    if (!token.empty()) x.request.set(http::field::authorization, "Bearer " + token);
    x.request.keep_alive(false);
    x.request.prepare_payload();
    net::co_spawn(io, exchange(x), net::detached);
    io.run_for(timeout + std::chrono::milliseconds(200));
    if (x.result) return std::move(*x.result);
    return {std::nullopt, "cannot reach the admin API at " + url.text + " (timed out after " +
                              std::to_string(timeout.count()) + " ms)"};
}

}  // namespace rp::app::admin
