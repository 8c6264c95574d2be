// TokenSource against real sockets: a token endpoint that accepts the TCP
// connection and never answers must not hold a send longer than the fetch
// deadline, and sends for one account that arrive while its fetch runs
// share that fetch (single flight) and its outcome.
#include "relay/oauth_tokens.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <boost/asio.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>
#include <vector>

#include "../oauth/test_key.hpp"

using namespace rp;
namespace asio = boost::asio;

namespace {

struct SilentEndpoint {
    // Accepts connections and keeps them, never writing a byte (not even a
    // TLS handshake): the worst an endpoint can do.
    explicit SilentEndpoint(asio::io_context& io) : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {
        accept();
    }
    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
            if (ec) return;
            held.push_back(std::move(s));
            accept();
        });
    }
    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    asio::ip::tcp::acceptor acceptor;
    std::vector<asio::ip::tcp::socket> held;
};

config::Account oauth_account(const std::string& name, const std::string& key_file) {
    config::Account a;
    a.username = name;
    a.oauth2 = config::OAuth2{};
    a.oauth2->service_account_file = key_file;
    a.oauth2->scope = "https://mail.google.com/";
    return a;
}

}  // namespace

TEST_CASE("token source: a silent endpoint costs one deadline, shared by the waiting sends") {
    asio::io_context io;
    SilentEndpoint endpoint(io);
    const std::string key_file = "/tmp/rp_oauth_tokens_test_" + std::to_string(::getpid()) + ".json";
    {
        std::ofstream out(key_file);
        out << oauth::testing::service_account_json(
            oauth::testing::shared_test_key().private_pem,
            "https://127.0.0.1:" + std::to_string(endpoint.port()) + "/token");
    }
    SystemClock clock;
    relay::TokenSourceOptions options;
    options.timeout = std::chrono::milliseconds(300);
    relay::TokenSource tokens(io.get_executor(), clock, options, nullptr);

    std::vector<std::optional<oauth::TokenReply>> replies(3);
    for (auto& slot : replies) {
        asio::co_spawn(
            io,
            [&tokens, &slot, &key_file]() -> asio::awaitable<void> {
                oauth::TokenReply r = co_await tokens.token(oauth_account("a@agency.example", key_file));
                slot = r;
            },
            asio::detached);
    }
    auto all_answered = [&] {
        return std::all_of(replies.begin(), replies.end(), [](const auto& r) { return r.has_value(); });
    };
    for (int i = 0; i < 200 && !all_answered(); ++i) io.run_for(std::chrono::milliseconds(50));
    for (const auto& r : replies) {
        REQUIRE(r.has_value());
        CHECK(r->failure == oauth::TokenFailure::unavailable);
        CHECK(r->error.find("timed out") != std::string::npos);
    }
    CHECK(tokens.fetches() == 1);      // one request for three sends
    CHECK(endpoint.held.size() == 1);  // one connection
    std::remove(key_file.c_str());
}
