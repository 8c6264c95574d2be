// Prometheus metrics: every metric name of SPEC.md is defined here and only
// here. Components get a Metrics& and call the typed helpers; label values
// (listener, account, reason, state) are created on first use. Thread-safe
// (prometheus-cpp families are). Uses no other relaypool folder.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
}

namespace rp::metrics {

// Reasons for relaypool_deferrals_total (SPEC.md).
namespace deferral {
inline constexpr std::string_view rate_limited = "rate_limited";
inline constexpr std::string_view quota = "quota";
inline constexpr std::string_view auth = "auth";
inline constexpr std::string_view connection = "connection";
inline constexpr std::string_view tls = "tls";
inline constexpr std::string_view temporary = "temporary";
inline constexpr std::string_view no_account = "no_account";
}  // namespace deferral

class Metrics {
  public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Text exposition format (version 0.0.4) for GET /metrics.
    std::string serialize() const;
    prometheus::Registry& registry();

    // Submission side.
    void message_accepted(std::string_view listener);
    void session_opened(std::string_view listener);
    void session_closed(std::string_view listener);
    void auth_failure(std::string_view listener);

    // Queue.
    void set_queue_depth(double ready, double active, double deferred);
    void set_queue_oldest_age(double seconds);

    // Spool (docs/spool.md): relaypool_spool_errors_total{kind}, kind =
    // commit (an intake not made durable), state_write (a delivery state not
    // written; the old one kept), quarantined (a file moved to quarantine/).
    void spool_error(std::string_view kind);

    // Pool state backend (relaypool_state_backend_up): file, or Redis when
    // pool.state is redis:// (0 while unreachable; docs/pool.md).
    void set_state_backend_up(bool up);

    // Delivery.
    void delivered(std::string_view account, double accept_to_delivery_seconds);
    void deferred(std::string_view account, std::string_view reason);
    void bounced(std::string_view reason);

    // Pool accounts. state is one of active, cooling_down, exhausted,
    // disabled, paused; the others of the five are set to 0.
    void set_account(std::string_view account, std::string_view state, double sent_24h, double daily_limit);
    // Drops the per-account gauges (up, state, sent_24h, daily_limit, token
    // age) of accounts not in `accounts`: after a reload removed one, its
    // last values would otherwise stay (a removed account still "up" keeps
    // the no-usable-account alert from firing). Counters stay: they only
    // stop growing.
    void retain_accounts(const std::vector<std::string>& accounts);

    // XOAUTH2 (docs/metrics.md): relaypool_oauth2_token_fetches_total{result},
    // result = ok, denied (the account is disabled), unavailable (temporary);
    // relaypool_oauth2_token_age_seconds{account} for the token in use; no
    // series while the account has no token (0 would read as "brand new").
    void oauth2_token_fetch(std::string_view result);
    void set_oauth2_token_age(std::string_view account, std::optional<double> seconds);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rp::metrics
