// XOAUTH2 token source (see oauth_tokens.hpp).
#include "relay/oauth_tokens.hpp"

#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <map>
#include <set>
#include <vector>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "oauth/jwt.hpp"
#include "oauth/service_account.hpp"
#include "relay/https_post.hpp"
#include "relay/tls_client.hpp"

namespace rp::relay {
namespace {

namespace asio = boost::asio;
using oauth::TokenCache;
using oauth::TokenFailure;
using oauth::TokenReply;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// Google accepts assertions that live at most an hour.
constexpr std::int64_t assertion_lifetime_seconds = 3600;
constexpr std::string_view default_scope = "https://mail.google.com/";
// RFC 7523 section 2.1, form-encoded (':' as %3A).
constexpr std::string_view grant_prefix =
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";

std::int64_t unix_seconds(WallTime t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string_view result_label(TokenFailure f) {
    switch (f) {
        case TokenFailure::none:
            return "ok";
        case TokenFailure::denied:
            return "denied";
        case TokenFailure::unavailable:
            return "unavailable";
    }
    return "unavailable";
}

TokenReply use(std::string token) {
    TokenReply r;
    r.failure = TokenFailure::none;
    r.access_token = std::move(token);
    return r;
}

}  // namespace

struct TokenSource::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor ex, const Clock& c, TokenSourceOptions o, metrics::Metrics* m)
        : executor(std::move(ex)), clock(c), options(std::move(o)), metrics(m), cache(options.cache) {
        tls_error = setup_client_tls(tls, options.ca_file);
    }

    struct LoadedKey {
        timespec mtime{};
        oauth::ServiceAccountResult result;
    };

    asio::any_io_executor executor;
    const Clock& clock;
    TokenSourceOptions options;
    metrics::Metrics* metrics;
    asio::ssl::context tls{asio::ssl::context::tls_client};
    std::string tls_error;
    TokenCache cache;
    std::map<std::string, std::vector<asio::steady_timer*>> waiters;
    std::map<std::string, LoadedKey> keys;  // by key file path
    std::set<std::string> accounts;         // that asked for a token (metrics)
    std::uint64_t fetches = 0;

    // The key file, read again when its mtime changes (a rotated key).
    const oauth::ServiceAccountResult& key_for(const std::string& path) {
        struct stat st {};
        LoadedKey& k = keys[path];
        if (::stat(path.c_str(), &st) != 0) {
            k = LoadedKey{{}, {std::nullopt, path + ": cannot read the service account key file"}};
            return k.result;
        }
        const bool changed = st.st_mtim.tv_sec != k.mtime.tv_sec || st.st_mtim.tv_nsec != k.mtime.tv_nsec;
        if (changed || (!k.result.key && k.result.error.empty())) {
            k.mtime = st.st_mtim;
            k.result = oauth::load_service_account_file(path);
        }
        return k.result;
    }

    asio::awaitable<TokenReply> fetch(const config::Account& account) {
        ++fetches;
        const oauth::ServiceAccountResult& loaded = key_for(account.oauth2->service_account_file);
        if (!loaded.key) co_return oauth::key_unusable(loaded.error);
        if (!tls_error.empty()) co_return oauth::unreachable(tls_error);
        const oauth::ServiceAccountKey& key = *loaded.key;
        const std::int64_t now = unix_seconds(clock.now());
        const std::string scope =
            account.oauth2->scope.empty() ? std::string(default_scope) : account.oauth2->scope;
        const oauth::JwtClaims claims{
            key.client_email, account.username, scope, key.token_uri, now, now + assertion_lifetime_seconds};
        std::string assertion = oauth::make_assertion(*key.signer, key.private_key_id, claims);
        if (assertion.empty()) co_return oauth::unreachable("signing the JWT failed (OpenSSL)");
        const oauth::HttpsUrl url = key.token_url;  // the key may be reloaded while we wait
        HttpsReply http = co_await https_post(executor, tls, url, "application/x-www-form-urlencoded",
                                              std::string(grant_prefix) + assertion, options.timeout);
        std::fill(assertion.begin(), assertion.end(), '\0');
        if (http.status == 0) co_return oauth::unreachable("token endpoint " + url.host + ": " + http.error);
        TokenReply reply = oauth::parse_token_reply(http.status, http.body);
        std::fill(http.body.begin(), http.body.end(), '\0');
        co_return reply;
    }

    void record(const std::string& account, const TokenReply& r) {
        if (metrics) metrics->oauth2_token_fetch(result_label(r.failure));
        if (r.failure == TokenFailure::none) {
            log::info("oauth2", "access token fetched",
                      {{"account", account}, {"expires_in", std::to_string(r.lifetime.count())}});
        } else {
            log::warn("oauth2",
                      r.failure == TokenFailure::denied ? "access token refused" : "access token unavailable",
                      {{"account", account}, {"error", r.error}, {"description", r.description}});
        }
    }

    void wake_all(const std::string& account) {
        auto it = waiters.find(account);
        if (it == waiters.end()) return;
        for (asio::steady_timer* t : it->second) t->cancel();
        waiters.erase(it);
    }

    asio::awaitable<TokenReply> token(config::Account account) {
        auto self = shared_from_this();
        accounts.insert(account.username);
        for (;;) {
            TokenCache::Decision d = cache.acquire(account.username, clock.now());
            if (d.action == TokenCache::Action::use) co_return use(std::move(d.token));
            if (d.action == TokenCache::Action::fail) co_return d.failure;
            if (d.action == TokenCache::Action::wait) {
                asio::steady_timer wake(executor, asio::steady_timer::time_point::max());
                waiters[account.username].push_back(&wake);
                co_await wake.async_wait(use_tuple);
                continue;
            }
            TokenReply reply = co_await fetch(account);
            cache.complete(account.username, reply, clock.now());
            record(account.username, reply);
            wake_all(account.username);
            // A renewal that failed for now: the old token still has time.
            if (reply.failure == TokenFailure::unavailable && !d.token.empty())
                co_return use(std::move(d.token));
            co_return reply;
        }
    }

    void publish(WallTime now) {
        if (!metrics) return;
        for (const auto& account : accounts) {
            auto age = cache.age(account, now);
            metrics->set_oauth2_token_age(account, age ? static_cast<double>(age->count()) : 0.0);
        }
    }
};

TokenSource::TokenSource(asio::any_io_executor executor, const Clock& clock, TokenSourceOptions options,
                         metrics::Metrics* metrics)
    : impl_(std::make_shared<Impl>(std::move(executor), clock, std::move(options), metrics)) {}

// Sends waiting for a fetch are woken when it ends (it has a deadline), so
// nothing is left to cancel here.
TokenSource::~TokenSource() = default;

asio::awaitable<TokenReply> TokenSource::token(config::Account account) {
    return impl_->token(std::move(account));
}

void TokenSource::drop(const std::string& account, const std::string& token) {
    impl_->cache.drop(account, token);
}

void TokenSource::publish(WallTime now) {
    impl_->publish(now);
}

std::uint64_t TokenSource::fetches() const {
    return impl_->fetches;
}

}  // namespace rp::relay
