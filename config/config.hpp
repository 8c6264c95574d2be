// relaypool configuration: the typed form of the YAML schema in SPEC.md.
//
// Invariants after load(): every value is validated, every secret is resolved
// (inline, *_file or *_env form) and no configuration that would make an open
// relay is accepted. Secrets live only in the fields marked "secret"; never
// log them. Used by every folder; uses nothing but the standard library.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rp::config {

using Duration = std::chrono::milliseconds;

// "host:port" split once at load; host may be an IPv4/IPv6 literal or a name.
struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string text;  // as written, for logs
};

// An IPv4 or IPv6 network; contains() takes a textual address.
struct Cidr {
    std::string text;
    bool v6 = false;
    std::uint8_t bytes[16] = {};
    int prefix = 0;
    bool contains(const std::string& address) const;
};

enum class ListenerTls { starttls, implicit, none };
enum class UpstreamTls { starttls, implicit, none };
enum class SenderRewrite { none, envelope, envelope_header };
enum class Strategy { round_robin, least_used, sticky };
enum class LogLevel { debug, info, warn, error };
enum class LogFormat { text, json };

struct Listener {
    std::string name;
    Endpoint address;
    ListenerTls tls = ListenerTls::starttls;
    bool require_auth = true;
    bool proxy_protocol = false;
    // Peers allowed to send the PROXY header (with proxy_protocol: true); a
    // connection from anywhere else is closed. Default: loopback only
    // (127.0.0.0/8, ::1), i.e. a proxy on the same host.
    std::vector<Cidr> proxy_protocol_from;
};

struct Tls {
    std::string certificate;          // PEM chain path
    std::string private_key;          // PEM key path
    std::string min_version = "1.2";  // "1.2" | "1.3"
    bool self_signed = false;
};

struct User {
    std::string username;
    std::string password_hash;  // secret-ish: crypt(3) hash
};

struct Limits {
    std::uint64_t max_message_size = 35882577;
    std::uint32_t max_recipients = 100;
    std::uint32_t max_connections = 2000;
    std::uint32_t max_connections_per_ip = 50;
    Duration idle_timeout = std::chrono::minutes(5);
    Duration auth_failure_delay = std::chrono::seconds(2);
};

struct Queue {
    std::string directory = "/var/spool/relaypool";
    Duration max_age = std::chrono::hours(24 * 5);
    Duration retry_initial = std::chrono::minutes(1);
    Duration retry_max = std::chrono::hours(1);
    // Free space the queue's filesystem keeps in reserve: below it, MAIL gets
    // 452 4.3.1 and queued mail keeps going out (state writes, DSNs). 0 = off.
    std::uint64_t min_free_space = 100ull * 1024 * 1024;
};

struct OAuth2 {
    std::string service_account_file;
    std::string scope = "https://mail.google.com/";
};

struct Upstream {
    std::string host = "smtp.gmail.com";
    std::uint16_t port = 587;
    UpstreamTls tls = UpstreamTls::starttls;
    bool allow_insecure = false;
    std::string ca_file;
    std::uint32_t connections_per_account = 2;
    std::uint32_t messages_per_connection = 50;
    SenderRewrite sender_rewrite = SenderRewrite::envelope;
    std::vector<std::string> strip_headers = {"Received", "X-Originating-IP"};
    std::optional<std::string> sandbox;  // directory: write .eml instead of connecting
};

struct Account {
    std::string username;
    std::string password;  // secret; empty when oauth2 is used
    std::optional<OAuth2> oauth2;
    std::uint32_t daily_limit = 2000;
    std::uint32_t daily_recipient_limit = 2000;  // 0 = none
    std::uint32_t hourly_limit = 0;              // 0 = none
    // Day 0 of pool.warmup for a new mailbox (days since the unix epoch,
    // UTC, from "YYYY-MM-DD"); nullopt = a warm account (own limits only).
    std::optional<std::int64_t> warmup_start_day;
    std::string warmup_start;  // as written, for status output
};

// One row of the warm-up ramp: from `from_day` (counted from an account's
// warmup_start) until the next row, the account sends at most `daily`
// messages (and recipients) in 24 hours and `hourly` in an hour (0 = no
// hourly cap). Rows are sorted and never decrease (checked at load).
struct WarmupRow {
    std::uint32_t from_day = 0;
    std::uint32_t daily = 0;
    std::uint32_t hourly = 0;
};

struct Pool {
    Strategy strategy = Strategy::round_robin;
    std::string state = "/var/lib/relaypool/pool.state";
    std::string state_password;  // Redis AUTH (state_password / _file / _env); "" = none
    Duration cooldown_temporary = std::chrono::minutes(15);
    std::vector<Account> accounts;
    std::optional<OAuth2> oauth2;
    std::vector<WarmupRow> warmup;
};

// Loopback by default: this port also serves the admin API, and a
// non-loopback address needs an admin token (see docs/configuration.md).
struct Metrics {
    Endpoint address{"0.0.0.0", 9090, "0.0.0.0:9090"};
};

struct Admin {
    std::string token_file;
    std::string token;  // secret: loaded from token_file
};

struct Logging {
    LogLevel level = LogLevel::info;
    LogFormat format = LogFormat::text;
};

struct Config {
    std::string source;  // file the config came from
    std::string hostname;
    std::vector<Listener> listeners;
    Tls tls;
    std::vector<User> users;
    std::vector<Cidr> trusted_networks;
    Limits limits;
    Queue queue;
    Upstream upstream;
    Pool pool;
    Metrics metrics;
    Admin admin;
    Logging logging;
};

// A configuration error, always with a position. what() is the full
// "FILE:LINE:COL: message" line that check-config prints.
class ConfigError : public std::runtime_error {
  public:
    ConfigError(std::string file, int line, int column, const std::string& message);
    const std::string& file() const { return file_; }
    int line() const { return line_; }
    int column() const { return column_; }
    const std::string& message() const { return message_; }

  private:
    std::string file_;
    int line_;
    int column_;
    std::string message_;
};

// Loads and validates a file. Throws ConfigError (also for an unreadable file:
// line 0, column 0).
Config load_file(const std::string& path);

// Same, from text; `name` is used as FILE in errors. Relative *_file paths
// resolve against `base_dir`.
Config load_string(const std::string& yaml, const std::string& name, const std::string& base_dir = ".");

// "35MiB", "1024", "10k" -> bytes; "90s", "15m", "24h", "5d", "250ms" -> duration.
// Return nullopt on a malformed value (the loader turns that into ConfigError).
std::optional<std::uint64_t> parse_size(const std::string& text);
std::optional<Duration> parse_duration(const std::string& text);

// True for the crypt(3) hash schemes relaypool verifies: yescrypt ($y$),
// bcrypt ($2b$) and SHA-512 ($6$). The one definition of "supported"; the
// loader checks users[].password_hash with it, server::is_supported_hash
// forwards to it.
bool is_supported_password_hash(std::string_view hash);

}  // namespace rp::config
