// HTTPS POST for the token endpoint (see https_post.hpp). One steady timer
// bounds the whole exchange: when it fires it cancels the resolver and
// closes the socket, and whatever step was running fails.
#include "relay/https_post.hpp"

#include <openssl/crypto.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "relay/tls_client.hpp"

namespace rp::relay {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint64_t max_body = 64 * 1024;

struct Exchange {
    Exchange(const asio::any_io_executor& ex, asio::ssl::context& tls)
        : resolver(ex), stream(ex, tls), timer(ex) {}
    tcp::resolver resolver;
    asio::ssl::stream<tcp::socket> stream;
    asio::steady_timer timer;
    bool timed_out = false;
};

// Every way out of https_post stops the deadline (its handler owns the
// Exchange; a pending one would keep it for the whole timeout).
struct StopTimerOnExit {
    Exchange& x;
    ~StopTimerOnExit() { x.timer.cancel(); }
};

HttpsReply failure(const Exchange& x, std::string step, const error_code& ec) {
    HttpsReply r;
    r.error = step + ": " + (x.timed_out ? std::string("timed out") : ec.message());
    return r;
}

}  // namespace

asio::awaitable<HttpsReply> https_post(asio::any_io_executor executor, asio::ssl::context& tls,
                                       const oauth::HttpsUrl& url, std::string content_type, std::string body,
                                       std::chrono::milliseconds timeout) {
    auto x = std::make_shared<Exchange>(executor, tls);
    x->timer.expires_after(timeout);
    x->timer.async_wait([x](error_code ec) {
        if (ec) return;
        x->timed_out = true;
        x->resolver.cancel();
        error_code ignored;
        x->stream.next_layer().close(ignored);
    });
    StopTimerOnExit stop_timer{*x};

    auto [rec, endpoints] = co_await x->resolver.async_resolve(url.host, url.port, use_tuple);
    if (rec || x->timed_out) co_return failure(*x, "resolve " + url.host, rec);
    auto [cec, endpoint] = co_await asio::async_connect(x->stream.next_layer(), endpoints, use_tuple);
    if (cec || x->timed_out) co_return failure(*x, "connect " + url.host + ":" + url.port, cec);
    verify_server_name(x->stream, url.host);
    auto [hec] = co_await x->stream.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (hec || x->timed_out) co_return failure(*x, "TLS with " + url.host, hec);

    http::request<http::string_body> request{http::verb::post, url.target, 11};
    request.set(http::field::host, url.authority());
    request.set(http::field::user_agent, "relaypool");
    request.set(http::field::content_type, content_type);
    request.set(http::field::accept, "application/json");
    request.set(http::field::connection, "close");
    request.body() = std::move(body);
    request.prepare_payload();
    auto [wec, written] = co_await http::async_write(x->stream, request, use_tuple);
    OPENSSL_cleanse(request.body().data(), request.body().size());  // a signed assertion: valid for an hour
    if (wec || x->timed_out) co_return failure(*x, "send request", wec);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body);
    parser.header_limit(16 * 1024);
    auto [rdec, read] = co_await http::async_read(x->stream, buffer, parser, use_tuple);
    if (rdec || x->timed_out) co_return failure(*x, "read response", rdec);
    HttpsReply reply;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = std::move(parser.get().body());
    error_code ignored;
    x->stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    x->stream.next_layer().close(ignored);
    co_return reply;
}

}  // namespace rp::relay
