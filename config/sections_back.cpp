// Loader of the back-end sections: limits, queue, upstream, pool (accounts,
// oauth2), metrics, admin, logging. See sections.hpp.
//
// Resolved here so that users of Config need not repeat it:
// - upstream.port defaults by upstream.tls: 587 starttls, 465 implicit, 25 none;
// - an account without a password of its own and without oauth2 of its own
//   gets a copy of pool.oauth2.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "config/redis_url.hpp"
#include "config/sections.hpp"

namespace rp::config::detail {
namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

bool valid_header_name(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c > 32 && c < 127 && c != ':'; });
}

// pool.state: a file path, or redis(s)://HOST:PORT[/DB][?OPTIONS] (config/redis_url.hpp).
void check_pool_state(const Map& m, const std::string& state) {
    if (state.empty()) m.bad_value("state", "must not be empty");
    if (!is_redis_url(state)) return;
    std::string why;
    if (!parse_redis_url(state, why))
        m.bad_value("state", "invalid Redis address \"" + redis_url_for_logs(state) + "\": " + why +
                                 " (redis://HOST:PORT/DB)");
}

// "YYYY-MM-DD" -> days since 1970-01-01 (UTC); nullopt when not a real date.
std::optional<std::int64_t> parse_day(const std::string& text) {
    int y = 0;
    unsigned mo = 0, d = 0;
    char tail = 0;
    if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &mo, &d, &tail) != 3)
        return std::nullopt;
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo}, std::chrono::day{d}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

std::optional<OAuth2> load_oauth2(const Map& parent) {
    if (!parent.has("oauth2")) return std::nullopt;
    Map m(parent.ctx(), parent.value("oauth2"), parent.key("oauth2"), {"service_account_file", "scope"});
    OAuth2 o;
    if (!m.read_input_file("service_account_file", o.service_account_file)) m.missing("service_account_file");
    if (m.read("scope", o.scope) && o.scope.empty()) m.bad_value("scope", "must not be empty");
    return o;
}

Account load_account(const Map& m, const std::optional<OAuth2>& pool_oauth2) {
    Account a;
    if (!m.read("username", a.username)) m.missing("username");
    if (a.username.empty() || a.username.find_first_of(" \t\r\n") != std::string::npos)
        m.bad_value("username", "must be non-empty and without spaces");
    auto password = m.read_secret("password");
    a.oauth2 = load_oauth2(m);
    if (password && a.oauth2)
        m.bad_value("oauth2",
                    "give either a password (password, password_file, password_env) or oauth2, not both");
    if (password) a.password = std::move(password->value);
    if (!password && !a.oauth2) {
        if (!pool_oauth2) m.missing("password", "or password_file, password_env, oauth2, or pool.oauth2");
        a.oauth2 = pool_oauth2;
    }
    m.read("daily_limit", a.daily_limit, 1);
    m.read("daily_recipient_limit", a.daily_recipient_limit);
    m.read("hourly_limit", a.hourly_limit);
    if (m.read("warmup_start", a.warmup_start) && !a.warmup_start.empty()) {
        a.warmup_start_day = parse_day(a.warmup_start);
        if (!a.warmup_start_day) m.bad_value("warmup_start", "expected a date YYYY-MM-DD (UTC), or \"\"");
    }
    return a;
}

// pool.warmup: rows sorted by from_day (the first at day 0) whose caps never
// decrease, so an account's effective limit never falls from one day to the
// next.
std::vector<WarmupRow> load_warmup(const Map& pool) {
    std::vector<WarmupRow> rows;
    if (!pool.has("warmup")) return rows;
    auto items = list_items(pool, "warmup");
    for (std::size_t i = 0; i < items.size(); ++i) {
        Map r(pool.ctx(), items[i], "pool.warmup[" + std::to_string(i) + "]",
              {"from_day", "daily", "hourly"});
        WarmupRow row;
        if (!r.read("from_day", row.from_day)) r.missing("from_day");
        if (!r.read("daily", row.daily, 1)) r.missing("daily");
        r.read("hourly", row.hourly);
        if (rows.empty() && row.from_day != 0) r.bad_value("from_day", "the first row must start at day 0");
        if (!rows.empty()) {
            const WarmupRow& prev = rows.back();
            if (row.from_day <= prev.from_day)
                r.bad_value("from_day", "rows must be sorted by from_day, without repeats");
            if (row.daily < prev.daily)
                r.bad_value("daily", "a ramp never decreases (the row before allows more)");
            auto hourly_cap = [](std::uint32_t h) { return h == 0 ? UINT32_MAX : h; };  // 0 = no cap
            if (hourly_cap(row.hourly) < hourly_cap(prev.hourly))
                r.bad_value("hourly", "a ramp never decreases (the row before allows more)");
        }
        rows.push_back(row);
    }
    return rows;
}

}  // namespace

void load_limits(const Map& root, Config& config) {
    Map m(root.ctx(), root.value("limits"), "limits",
          {"max_message_size", "max_recipients", "max_connections", "max_connections_per_ip", "idle_timeout",
           "auth_failure_delay"},
          root.key_mark("limits"));
    Limits& l = config.limits;
    m.read_size("max_message_size", l.max_message_size, 1);
    m.read("max_recipients", l.max_recipients, 1);
    m.read("max_connections", l.max_connections, 1);
    m.read("max_connections_per_ip", l.max_connections_per_ip, 1);
    m.read_duration("idle_timeout", l.idle_timeout, false);
    m.read_duration("auth_failure_delay", l.auth_failure_delay, true);
}

void load_queue(const Map& root, Config& config) {
    Map m(root.ctx(), root.value("queue"), "queue",
          {"directory", "max_age", "retry_initial", "retry_max", "min_free_space"}, root.key_mark("queue"));
    Queue& q = config.queue;
    if (m.read("directory", q.directory) && q.directory.empty())
        m.bad_value("directory", "must not be empty");
    m.read_duration("max_age", q.max_age, false);
    m.read_duration("retry_initial", q.retry_initial, false);
    m.read_duration("retry_max", q.retry_max, false);
    m.read_size("min_free_space", q.min_free_space);
    if (q.retry_max < q.retry_initial)
        m.ctx().fail(m.value_mark(m.has("retry_max") ? "retry_max" : "retry_initial"),
                     "queue.retry_max: must not be shorter than queue.retry_initial");
}

void load_upstream(const Map& root, Config& config) {
    Map m(root.ctx(), root.value("upstream"), "upstream",
          {"host", "port", "tls", "allow_insecure", "ca_file", "connections_per_account",
           "messages_per_connection", "sender_rewrite", "strip_headers", "sandbox"},
          root.key_mark("upstream"));
    Upstream& u = config.upstream;
    if (m.read("host", u.host) && u.host.empty()) m.bad_value("host", "must not be empty");
    read_enum(m, "tls", u.tls,
              {{"starttls", UpstreamTls::starttls},
               {"implicit", UpstreamTls::implicit},
               {"none", UpstreamTls::none}});
    u.port = u.tls == UpstreamTls::implicit ? 465 : u.tls == UpstreamTls::none ? 25 : 587;
    m.read("port", u.port, 1);
    m.read("allow_insecure", u.allow_insecure);
    if (u.tls == UpstreamTls::none && !u.allow_insecure)
        m.bad_value("tls",
                    "\"none\" would send account passwords and mail in clear text; "
                    "set upstream.allow_insecure: true to allow it (test upstreams only)");
    m.read_input_file("ca_file", u.ca_file);
    m.read("connections_per_account", u.connections_per_account, 1);
    m.read("messages_per_connection", u.messages_per_connection, 1);
    read_enum(m, "sender_rewrite", u.sender_rewrite,
              {{"none", SenderRewrite::none},
               {"envelope", SenderRewrite::envelope},
               {"envelope+header", SenderRewrite::envelope_header}});
    if (m.has("strip_headers")) {
        u.strip_headers.clear();
        auto items = list_items(m, "strip_headers");
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::string key = m.key("strip_headers") + "[" + std::to_string(i) + "]";
            std::string h = scalar_of(m.ctx(), items[i], key, "a header name");
            if (!valid_header_name(h))
                m.ctx().fail(items[i].Mark(), key + ": \"" + h + "\" is not a header field name");
            u.strip_headers.push_back(std::move(h));
        }
    }
    std::string sandbox;
    if (m.read("sandbox", sandbox)) {
        if (sandbox.empty()) m.bad_value("sandbox", "must be a directory");
        u.sandbox = sandbox;
    }
}

void load_pool(const Map& root, Config& config) {
    if (!root.has("pool")) root.missing("pool", "at least one upstream account is needed");
    Map m(root.ctx(), root.value("pool"), "pool",
          {"strategy", "state", "state_password", "state_password_file", "state_password_env",
           "cooldown_temporary", "accounts", "oauth2", "warmup"});
    Pool& p = config.pool;
    read_enum(m, "strategy", p.strategy,
              {{"round-robin", Strategy::round_robin},
               {"least-used", Strategy::least_used},
               {"sticky", Strategy::sticky}});
    if (m.read("state", p.state)) check_pool_state(m, p.state);
    if (auto password = m.read_secret("state_password")) {
        if (!is_redis_url(p.state))
            m.bad_value("state", "state_password is only for a redis:// or rediss:// pool.state");
        p.state_password = password->value;
    }
    m.read_duration("cooldown_temporary", p.cooldown_temporary, false);
    p.oauth2 = load_oauth2(m);
    p.warmup = load_warmup(m);
    if (!m.has("accounts")) m.missing("accounts", "at least one upstream account is needed");
    auto items = list_items(m, "accounts");
    if (items.empty()) m.bad_value("accounts", "at least one upstream account is needed");
    for (std::size_t i = 0; i < items.size(); ++i) {
        Map a(m.ctx(), items[i], "pool.accounts[" + std::to_string(i) + "]",
              {"username", "password", "password_file", "password_env", "oauth2", "daily_limit",
               "daily_recipient_limit", "hourly_limit", "warmup_start"});
        Account account = load_account(a, p.oauth2);
        for (const auto& other : p.accounts)
            if (lower(other.username) == lower(account.username))
                a.bad_value("username", "duplicate account \"" + account.username + "\"");
        p.accounts.push_back(std::move(account));
    }
}

void load_metrics_admin_logging(const Map& root, Config& config, Where& where) {
    Map metrics(root.ctx(), root.value("metrics"), "metrics", {"address"}, root.key_mark("metrics"));
    metrics.read_endpoint("address", config.metrics.address);
    where.metrics_address = metrics.value_mark("address");

    Map admin(root.ctx(), root.value("admin"), "admin", {"token", "token_file", "token_env"},
              root.key_mark("admin"));
    if (auto token = admin.read_secret("token")) {
        if (token->key == "admin.token_file") admin.read_input_file("token_file", config.admin.token_file);
        config.admin.token = std::move(token->value);
    }

    Map logging(root.ctx(), root.value("logging"), "logging", {"level", "format"}, root.key_mark("logging"));
    read_enum(logging, "level", config.logging.level,
              {{"debug", LogLevel::debug},
               {"info", LogLevel::info},
               {"warn", LogLevel::warn},
               {"error", LogLevel::error}});
    read_enum(logging, "format", config.logging.format,
              {{"text", LogFormat::text}, {"json", LogFormat::json}});
}

}  // namespace rp::config::detail
