// XOAUTH2 token source (see oauth_tokens.hpp).
#include "relay/oauth_tokens.hpp"

#include <openssl/crypto.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <map>
#include <optional>
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

    // A key file as last read, and the last version of it that parsed.
    struct LoadedKey {
        timespec mtime{};
        bool read = false;
        std::string error;                             // of the last read
        std::optional<oauth::ServiceAccountKey> good;  // the last one that parsed
    };
    struct KeyChoice {
        const oauth::ServiceAccountKey* key = nullptr;  // null: never parsed
        std::string error;
    };

    asio::any_io_executor executor;
    const Clock& clock;
    TokenSourceOptions options;
    metrics::Metrics* metrics;
    asio::ssl::context tls{asio::ssl::context::tls_client};
    std::string tls_error;
    TokenCache cache;  // by cache_key(): a reload that changes the key file or scope starts afresh
    std::map<std::string, std::vector<asio::steady_timer*>> waiters;  // by cache key
    std::map<std::string, LoadedKey> keys;                            // by key file path
    // account -> the cache key it used last (metrics): after a reload that
    // changed its key file or scope, the old key's token is not its token.
    std::map<std::string, std::string> current_key;
    std::uint64_t fetches = 0;

    static std::string cache_key(const config::Account& a) {
        return a.username + '\n' + a.oauth2->service_account_file + '\n' + a.oauth2->scope;
    }

    // The key file, read again when its mtime changes (a rotated key). A
    // version that does not parse (a copy still being written) or a file
    // briefly missing keeps the last good key in use; only a file that never
    // parsed is a refusal.
    KeyChoice key_for(const std::string& path) {
        LoadedKey& k = keys[path];
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
            k.error = path + ": cannot read the service account key file";
        } else if (!k.read || st.st_mtim.tv_sec != k.mtime.tv_sec || st.st_mtim.tv_nsec != k.mtime.tv_nsec) {
            k.read = true;
            k.mtime = st.st_mtim;
            oauth::ServiceAccountResult r = oauth::load_service_account_file(path);
            k.error = r.error;
            if (r.key) k.good = std::move(r.key);
        }
        if (!k.error.empty() && k.good)
            log::warn("oauth2", "service account key file unusable; the last good key stays in use",
                      {{"file", path}, {"error", k.error}});
        return KeyChoice{k.good ? &*k.good : nullptr, k.error};
    }

    asio::awaitable<TokenReply> fetch(const config::Account& account) {
        const KeyChoice choice = key_for(account.oauth2->service_account_file);
        if (!choice.key) co_return oauth::key_unusable(choice.error);
        if (!tls_error.empty()) co_return oauth::unreachable(tls_error);
        ++fetches;
        const oauth::ServiceAccountKey& key = *choice.key;
        const std::int64_t now = unix_seconds(clock.now());
        const std::string scope =
            account.oauth2->scope.empty() ? std::string(default_scope) : account.oauth2->scope;
        const oauth::JwtClaims claims{
            key.client_email, account.username, scope, key.token_uri, now, now + assertion_lifetime_seconds};
        std::string form =
            std::string(grant_prefix) + oauth::make_assertion(*key.signer, key.private_key_id, claims);
        if (form.size() == grant_prefix.size())
            co_return oauth::unreachable("signing the JWT failed (OpenSSL)");
        const oauth::HttpsUrl url = key.token_url;  // the key may be re-read while we wait
        HttpsReply http = co_await https_post(executor, tls, url, "application/x-www-form-urlencoded",
                                              std::move(form), options.timeout);
        if (http.status == 0) co_return oauth::unreachable("token endpoint " + url.host + ": " + http.error);
        TokenReply reply = oauth::parse_token_reply(http.status, http.body);
        OPENSSL_cleanse(http.body.data(), http.body.size());
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

    void wake_all(const std::string& key) {
        auto it = waiters.find(key);
        if (it == waiters.end()) return;
        for (asio::steady_timer* t : it->second) t->cancel();
        waiters.erase(it);
    }

    // Ends a fetch however the coroutine leaves (an exception, a frame
    // destroyed at shutdown), so the account is never left "fetching" with
    // its waiters asleep forever. The unwind path uses the start time: the
    // clock's owner may already be gone.
    struct FetchGuard {
        Impl& impl;
        std::string key;
        WallTime started;
        bool done = false;
        void complete(const TokenReply& reply, WallTime now) {
            done = true;
            impl.cache.complete(key, reply, now);
            impl.wake_all(key);
        }
        ~FetchGuard() {
            if (!done) complete(oauth::unreachable("token fetch abandoned"), started);
        }
    };

    // A send waiting for another's fetch: its timer is listed for wake_all()
    // exactly as long as the waiting frame exists.
    struct WaitRegistration {
        Impl& impl;
        std::string key;
        asio::steady_timer* timer;
        WaitRegistration(Impl& i, std::string k, asio::steady_timer* t)
            : impl(i), key(std::move(k)), timer(t) {
            impl.waiters[key].push_back(timer);
        }
        ~WaitRegistration() {
            if (auto it = impl.waiters.find(key); it != impl.waiters.end()) std::erase(it->second, timer);
        }
    };

    asio::awaitable<TokenReply> token(config::Account account) {
        auto self = shared_from_this();
        const std::string key = cache_key(account);
        current_key[account.username] = key;
        for (;;) {
            TokenCache::Decision d = cache.acquire(key, clock.now());
            if (d.action == TokenCache::Action::use) co_return use(std::move(d.token));
            if (d.action == TokenCache::Action::fail) co_return d.failure;
            if (d.action == TokenCache::Action::wait) {
                asio::steady_timer wake(executor, asio::steady_timer::time_point::max());
                WaitRegistration registered(*this, key, &wake);
                co_await wake.async_wait(use_tuple);
                continue;
            }
            FetchGuard guard{*this, key, clock.now()};
            TokenReply reply = co_await fetch(account);
            guard.complete(reply, clock.now());
            record(account.username, reply);
            // A renewal that failed for now: the cache says whether the old
            // token still has time (and was not dropped meanwhile).
            if (reply.failure == TokenFailure::unavailable && !d.token.empty()) continue;
            co_return reply;
        }
    }

    void drop(const config::Account& account, const std::string& token) {
        if (account.oauth2) cache.drop(cache_key(account), token);
    }

    void publish(WallTime now) {
        if (!metrics) return;
        for (const auto& [account, key] : current_key) {
            auto age = cache.age(key, now);
            metrics->set_oauth2_token_age(
                account, age ? std::optional<double>(static_cast<double>(age->count())) : std::nullopt);
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

void TokenSource::drop(const config::Account& account, const std::string& token) {
    impl_->drop(account, token);
}

void TokenSource::publish(WallTime now) {
    impl_->publish(now);
}

std::uint64_t TokenSource::fetches() const {
    return impl_->fetches;
}

}  // namespace rp::relay
