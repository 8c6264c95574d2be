// Metric families and their typed helpers (see metrics.hpp).
#include "metrics/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <set>
#include <sstream>

namespace rp::metrics {

namespace {
constexpr std::array<std::string_view, 5> kAccountStates = {"active", "cooling_down", "exhausted", "disabled",
                                                            "paused"};
// Exported at 0 from the start: a counter series that appears only with its
// first increment hides that increment from rate()/increase(), so the
// "spool errors" alert (docker/prometheus/alerts.yml) would miss the first one.
constexpr std::array<std::string_view, 4> kSpoolErrorKinds = {"commit", "state_write", "quarantined",
                                                              "remove"};
constexpr std::array<std::string_view, 3> kTokenFetchResults = {"ok", "denied", "unavailable"};
std::string s(std::string_view v) {
    return std::string(v);
}
}  // namespace

struct Metrics::Impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    std::mutex accounts_mutex;
    std::set<std::string> accounts;  // those with per-account gauges (retain_accounts)

    prometheus::Family<prometheus::Gauge>& queue_depth = prometheus::BuildGauge()
                                                             .Name("relaypool_queue_depth")
                                                             .Help("Queued messages by state")
                                                             .Register(*registry);
    prometheus::Family<prometheus::Gauge>& queue_oldest = prometheus::BuildGauge()
                                                              .Name("relaypool_queue_oldest_age_seconds")
                                                              .Help("Age of the oldest queued message")
                                                              .Register(*registry);
    prometheus::Family<prometheus::Counter>& accepted = prometheus::BuildCounter()
                                                            .Name("relaypool_messages_accepted_total")
                                                            .Help("Messages accepted (250 after DATA/BDAT)")
                                                            .Register(*registry);
    prometheus::Family<prometheus::Counter>& deliveries = prometheus::BuildCounter()
                                                              .Name("relaypool_deliveries_total")
                                                              .Help("Messages delivered upstream, by account")
                                                              .Register(*registry);
    prometheus::Family<prometheus::Counter>& deferrals =
        prometheus::BuildCounter()
            .Name("relaypool_deferrals_total")
            .Help("Delivery attempts that ended neither delivered nor bounced")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& spool_errors = prometheus::BuildCounter()
                                                                .Name("relaypool_spool_errors_total")
                                                                .Help("Spool errors by kind (docs/spool.md)")
                                                                .Register(*registry);
    // 1 while the pool state backend is usable: the file (always, unless a
    // write fails: see /readyz) or Redis (connected, scripts loaded).
    prometheus::Gauge& state_backend_up = prometheus::BuildGauge()
                                              .Name("relaypool_state_backend_up")
                                              .Help("1 if the pool state backend (file or Redis) is usable")
                                              .Register(*registry)
                                              .Add({});
    prometheus::Family<prometheus::Counter>& bounces = prometheus::BuildCounter()
                                                           .Name("relaypool_bounces_total")
                                                           .Help("Bounced recipients")
                                                           .Register(*registry);
    prometheus::Family<prometheus::Gauge>& account_up = prometheus::BuildGauge()
                                                            .Name("relaypool_account_up")
                                                            .Help("1 if the account is usable")
                                                            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& account_state = prometheus::BuildGauge()
                                                               .Name("relaypool_account_state")
                                                               .Help("Account state (1 = current)")
                                                               .Register(*registry);
    prometheus::Family<prometheus::Gauge>& account_sent = prometheus::BuildGauge()
                                                              .Name("relaypool_account_sent_24h")
                                                              .Help("Messages sent in the last 24 hours")
                                                              .Register(*registry);
    prometheus::Family<prometheus::Gauge>& account_limit = prometheus::BuildGauge()
                                                               .Name("relaypool_account_daily_limit")
                                                               .Help("Configured daily message limit")
                                                               .Register(*registry);
    prometheus::Family<prometheus::Gauge>& sessions = prometheus::BuildGauge()
                                                          .Name("relaypool_sessions_active")
                                                          .Help("Open SMTP sessions")
                                                          .Register(*registry);
    prometheus::Family<prometheus::Counter>& auth_failures = prometheus::BuildCounter()
                                                                 .Name("relaypool_auth_failures_total")
                                                                 .Help("Failed client AUTH attempts")
                                                                 .Register(*registry);
    prometheus::Family<prometheus::Counter>& token_fetches =
        prometheus::BuildCounter()
            .Name("relaypool_oauth2_token_fetches_total")
            .Help("XOAUTH2 access token requests to the token endpoint, by result")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& token_age = prometheus::BuildGauge()
                                                           .Name("relaypool_oauth2_token_age_seconds")
                                                           .Help("Age of the account's cached XOAUTH2 token")
                                                           .Register(*registry);
    prometheus::Family<prometheus::Histogram>& latency = prometheus::BuildHistogram()
                                                             .Name("relaypool_delivery_latency_seconds")
                                                             .Help("Time from acceptance to delivery")
                                                             .Register(*registry);
    prometheus::Histogram& latency_histogram =
        latency.Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                                                300, 900, 3600, 14400, 86400});
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
    set_queue_depth(0, 0, 0);
    set_queue_oldest_age(0);
    for (auto kind : kSpoolErrorKinds) impl_->spool_errors.Add({{"kind", s(kind)}});
    for (auto result : kTokenFetchResults) impl_->token_fetches.Add({{"result", s(result)}});
}
Metrics::~Metrics() = default;

prometheus::Registry& Metrics::registry() {
    return *impl_->registry;
}

std::string Metrics::serialize() const {
    prometheus::TextSerializer serializer;
    std::ostringstream out;
    serializer.Serialize(out, impl_->registry->Collect());
    return out.str();
}

void Metrics::message_accepted(std::string_view listener) {
    impl_->accepted.Add({{"listener", s(listener)}}).Increment();
}
void Metrics::session_opened(std::string_view listener) {
    impl_->sessions.Add({{"listener", s(listener)}}).Increment();
}
void Metrics::session_closed(std::string_view listener) {
    impl_->sessions.Add({{"listener", s(listener)}}).Decrement();
}
void Metrics::auth_failure(std::string_view listener) {
    impl_->auth_failures.Add({{"listener", s(listener)}}).Increment();
}

void Metrics::set_queue_depth(double ready, double active, double deferred) {
    impl_->queue_depth.Add({{"state", "ready"}}).Set(ready);
    impl_->queue_depth.Add({{"state", "active"}}).Set(active);
    impl_->queue_depth.Add({{"state", "deferred"}}).Set(deferred);
}
void Metrics::set_queue_oldest_age(double seconds) {
    impl_->queue_oldest.Add({}).Set(seconds);
}

void Metrics::delivered(std::string_view account, double seconds) {
    impl_->deliveries.Add({{"account", s(account)}}).Increment();
    impl_->latency_histogram.Observe(seconds);
}
void Metrics::deferred(std::string_view account, std::string_view reason) {
    impl_->deferrals.Add({{"account", s(account)}, {"reason", s(reason)}}).Increment();
}
void Metrics::set_state_backend_up(bool up) {
    impl_->state_backend_up.Set(up ? 1 : 0);
}

void Metrics::spool_error(std::string_view kind) {
    impl_->spool_errors.Add({{"kind", s(kind)}}).Increment();
}

void Metrics::bounced(std::string_view reason) {
    impl_->bounces.Add({{"reason", s(reason)}}).Increment();
}

void Metrics::set_account(std::string_view account, std::string_view state, double sent_24h,
                          double daily_limit) {
    const std::string name = s(account);
    {
        std::lock_guard lock(impl_->accounts_mutex);
        impl_->accounts.insert(name);
    }
    impl_->account_up.Add({{"account", name}}).Set(state == "active" ? 1 : 0);
    for (auto candidate : kAccountStates) {
        impl_->account_state.Add({{"account", name}, {"state", s(candidate)}})
            .Set(candidate == state ? 1 : 0);
    }
    impl_->account_sent.Add({{"account", name}}).Set(sent_24h);
    impl_->account_limit.Add({{"account", name}}).Set(daily_limit);
}

namespace {
template <class T>
void remove_series(prometheus::Family<T>& family, const prometheus::Labels& labels) {
    if (family.Has(labels)) family.Remove(&family.Add(labels));
}
}  // namespace

void Metrics::retain_accounts(const std::vector<std::string>& keep) {
    std::lock_guard lock(impl_->accounts_mutex);
    for (auto it = impl_->accounts.begin(); it != impl_->accounts.end();) {
        if (std::find(keep.begin(), keep.end(), *it) != keep.end()) {
            ++it;
            continue;
        }
        const prometheus::Labels labels{{"account", *it}};
        remove_series(impl_->account_up, labels);
        for (auto state : kAccountStates)
            remove_series(impl_->account_state, {{"account", *it}, {"state", s(state)}});
        remove_series(impl_->account_sent, labels);
        remove_series(impl_->account_limit, labels);
        remove_series(impl_->token_age, labels);
        it = impl_->accounts.erase(it);
    }
}

void Metrics::oauth2_token_fetch(std::string_view result) {
    impl_->token_fetches.Add({{"result", s(result)}}).Increment();
}
void Metrics::set_oauth2_token_age(std::string_view account, std::optional<double> seconds) {
    const prometheus::Labels labels{{"account", s(account)}};
    {
        // Only for accounts the pool still has (set_account): the token
        // source remembers accounts a reload removed.
        std::lock_guard lock(impl_->accounts_mutex);
        if (seconds && !impl_->accounts.count(s(account))) seconds.reset();
    }
    if (seconds)
        impl_->token_age.Add(labels).Set(*seconds);
    else if (impl_->token_age.Has(labels))
        impl_->token_age.Remove(&impl_->token_age.Add(labels));
}

}  // namespace rp::metrics
