// One HTTPS POST with a deadline over the whole exchange (resolve, connect,
// TLS, request, response), for the XOAUTH2 token endpoint. A fresh
// connection per call: a token lives an hour and is fetched once per
// account, so keep-alive would buy nothing.
// Never throws; transport failures come back as `error` (status 0). The
// response body is bounded (64 KiB). Nothing here logs: the request carries
// a signed assertion and the response a token.
// Used by relay/oauth_tokens.cpp. Asio in the .cpp only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

#include "oauth/service_account.hpp"

namespace boost::asio::ssl {
class context;
}

namespace rp::relay {

struct HttpsReply {
    int status = 0;     // HTTP status; 0 when there is no answer
    std::string body;   // bounded
    std::string error;  // why there is no answer ("connect: connection refused", "timed out")
};

boost::asio::awaitable<HttpsReply> https_post(boost::asio::any_io_executor executor,
                                              boost::asio::ssl::context& tls, const oauth::HttpsUrl& url,
                                              std::string content_type, std::string body,
                                              std::chrono::milliseconds timeout);

}  // namespace rp::relay
