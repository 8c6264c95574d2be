// Loader of the front-door sections: hostname, listeners, tls, users,
// trusted_networks, and the cross-section checks that keep check-config
// from accepting an open relay. See sections.hpp.
#include <unistd.h>

#include <algorithm>

#include "config/sections.hpp"

namespace rp::config::detail {
namespace {

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.';
    });
}

// Printable ASCII without spaces: what an SMTP AUTH username can carry here.
bool valid_username(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c > 32 && c < 127; });
}

std::string system_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    return buf;
}

bool is_v6(const std::string& host) {
    return host.find(':') != std::string::npos;
}

// Two sockets that cannot both listen: the same port on the same host, or
// on a wildcard and a specific address of the same family. ("0.0.0.0" and
// "::" may coexist: the server binds "::" IPv6-only.)
bool clash(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port) return false;
    if (a.host == b.host) return true;
    if (is_v6(a.host) != is_v6(b.host)) return false;
    auto wildcard = [](const std::string& h) { return h == "0.0.0.0" || h == "::"; };
    return wildcard(a.host) || wildcard(b.host);
}

std::string item_path(std::string_view list, std::size_t i) {
    return std::string(list) + "[" + std::to_string(i) + "]";
}

void default_listeners(const Map& root, Config& config, Where& where) {
    config.listeners = {
        Listener{"submission", {"0.0.0.0", 587, "0.0.0.0:587"}, ListenerTls::starttls, true, false, {}},
        Listener{"smtps", {"0.0.0.0", 465, "0.0.0.0:465"}, ListenerTls::implicit, true, false, {}},
    };
    where.listeners.assign(2, ListenerWhere{root.mark(), root.mark(), root.mark()});
}

// proxy_protocol_from: a non-empty list of networks, only with
// proxy_protocol: true; absent means loopback only.
void load_proxy_protocol_from(const Map& m, Listener& l) {
    constexpr std::string_view name = "proxy_protocol_from";
    if (!m.contains(name)) {
        if (!l.proxy_protocol) return;
        std::string why;
        for (const char* text : {"127.0.0.0/8", "::1/128"})
            l.proxy_protocol_from.push_back(*parse_cidr(text, why));
        return;
    }
    if (!l.proxy_protocol) m.bad_value(name, "only meaningful with proxy_protocol: true");
    auto items = list_items(m, name);
    if (items.empty())
        m.bad_value(name,
                    "no network may send the PROXY header; list at least one, or omit it for loopback only");
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::string key = item_path(m.key(name), i);
        std::string text = scalar_of(m.ctx(), items[i], key, "a network");
        std::string why;
        auto cidr = parse_cidr(text, why);
        if (!cidr) m.ctx().fail(items[i].Mark(), key + ": invalid network \"" + text + "\": " + why);
        l.proxy_protocol_from.push_back(*cidr);
        check_network_breadth(m.ctx(), items[i].Mark(), key, l.proxy_protocol_from,
                              "so any client could name any address (and escape the per-client limits)");
    }
}

Listener load_listener(const Map& m) {
    Listener l;
    if (!m.read("name", l.name)) m.missing("name");
    if (!valid_name(l.name)) m.bad_value("name", "use 1..64 letters, digits, '-', '_' or '.'");
    if (!m.read_endpoint("address", l.address)) m.missing("address");
    read_enum(m, "tls", l.tls,
              {{"starttls", ListenerTls::starttls},
               {"implicit", ListenerTls::implicit},
               {"none", ListenerTls::none}});
    m.read("require_auth", l.require_auth);
    m.read("proxy_protocol", l.proxy_protocol);
    check_proxy_protocol(m, l);
    load_proxy_protocol_from(m, l);
    if (l.tls == ListenerTls::none && l.require_auth)
        m.bad_value("tls",
                    "\"none\" with require_auth: true cannot work: AUTH is only offered over TLS "
                    "(use starttls or implicit, or require_auth: false with trusted_networks)");
    return l;
}

}  // namespace

std::vector<YAML::Node> list_items(const Map& map, std::string_view name) {
    std::vector<YAML::Node> items;
    YAML::Node list = map.value(name);
    if (!list.IsDefined() || list.IsNull()) return items;
    if (!list.IsSequence()) map.bad_value(name, std::string("expected a list, got ") + kind_of(list));
    for (auto it = list.begin(); it != list.end(); ++it) items.push_back(*it);
    return items;
}

void load_hostname(const Map& root, Config& config) {
    config.hostname = system_hostname();
    if (!root.read("hostname", config.hostname)) return;
    bool ok = !config.hostname.empty() && config.hostname.size() <= 253 &&
              std::all_of(config.hostname.begin(), config.hostname.end(), [](char c) {
                  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '-' || c == '.';
              });
    if (!ok) root.bad_value("hostname", "not a host name (letters, digits, '-', '.')");
}

void load_listeners(const Map& root, Config& config, Where& where) {
    if (!root.has("listeners")) return default_listeners(root, config, where);
    auto items = list_items(root, "listeners");
    if (items.empty()) root.bad_value("listeners", "at least one listener is needed");
    for (std::size_t i = 0; i < items.size(); ++i) {
        Map m(root.ctx(), items[i], item_path("listeners", i),
              {"name", "address", "tls", "require_auth", "proxy_protocol", "proxy_protocol_from"});
        Listener l = load_listener(m);
        for (const auto& other : config.listeners) {
            if (other.name == l.name) m.bad_value("name", "duplicate listener name \"" + l.name + "\"");
            if (clash(other.address, l.address))
                m.bad_value("address", "address \"" + l.address.text + "\" clashes with listener \"" +
                                           other.name + "\" on \"" + other.address.text + "\"");
        }
        config.listeners.push_back(std::move(l));
        where.listeners.push_back({m.mark(), m.value_mark("require_auth"), m.value_mark("address")});
    }
}

void load_tls(const Map& root, Config& config) {
    Map m(root.ctx(), root.value("tls"), "tls", {"certificate", "private_key", "min_version", "self_signed"},
          root.key_mark("tls"));
    Tls& tls = config.tls;
    bool cert = m.read_input_file("certificate", tls.certificate);
    bool key = m.read_input_file("private_key", tls.private_key);
    m.read("self_signed", tls.self_signed);
    if (m.read("min_version", tls.min_version) && tls.min_version != "1.2" && tls.min_version != "1.3")
        m.bad_value("min_version", "expected \"1.2\" or \"1.3\", got \"" + tls.min_version + "\"");
    if (tls.self_signed && (cert || key))
        m.bad_value("self_signed", "use either self_signed: true or certificate and private_key, not both");
    if (cert && !key) m.missing("private_key", "certificate is set");
    if (key && !cert) m.missing("certificate", "private_key is set");
    auto tls_user = std::find_if(config.listeners.begin(), config.listeners.end(),
                                 [](const Listener& l) { return l.tls != ListenerTls::none; });
    if (tls_user == config.listeners.end() || cert || tls.self_signed) return;
    std::string why = "listener \"" + tls_user->name + "\" uses TLS";
    if (!root.has("tls")) root.missing("tls", why);
    m.missing("certificate", why + "; or set self_signed: true");
}

void load_users(const Map& root, Config& config, Where& where) {
    if (root.contains("users")) where.users_key = root.key_mark("users");
    auto items = list_items(root, "users");
    for (std::size_t i = 0; i < items.size(); ++i) {
        Map m(root.ctx(), items[i], item_path("users", i),
              {"username", "password_hash", "password_hash_file", "password_hash_env"});
        User u;
        if (!m.read("username", u.username)) m.missing("username");
        if (!valid_username(u.username))
            m.bad_value("username", "must be non-empty printable text without spaces");
        for (const auto& other : config.users)
            if (other.username == u.username)
                m.bad_value("username", "duplicate user \"" + u.username + "\"");
        auto hash = m.read_secret("password_hash");
        if (!hash) m.missing("password_hash", "or password_hash_file, password_hash_env");
        if (!is_supported_password_hash(hash->value))
            root.ctx().fail(hash->mark,
                            hash->key +
                                ": not a supported password hash ($y$, $2b$ or $6$; make one with "
                                "`relaypool hash-password`)");
        u.password_hash = std::move(hash->value);
        config.users.push_back(std::move(u));
    }
}

void load_trusted_networks(const Map& root, Config& config) {
    auto items = list_items(root, "trusted_networks");
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::string key = item_path("trusted_networks", i);
        std::string text = scalar_of(root.ctx(), items[i], key, "a network");
        std::string why;
        auto cidr = parse_cidr(text, why);
        if (!cidr) root.ctx().fail(items[i].Mark(), key + ": invalid network \"" + text + "\": " + why);
        config.trusted_networks.push_back(*cidr);
        check_network_breadth(root.ctx(), items[i].Mark(), key, config.trusted_networks,
                              "which would make an open relay");
    }
}

void check_cross_section(const Context& ctx, const Config& config, const Where& where) {
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const Listener& l = config.listeners[i];
        std::string key = item_path("listeners", i);
        if (!l.require_auth && config.trusted_networks.empty())
            ctx.fail(where.listeners[i].require_auth,
                     key + ".require_auth: false needs trusted_networks; without them listener \"" + l.name +
                         "\" would be an open relay");
        if (l.require_auth && config.users.empty())
            ctx.fail(where.users_key.value_or(where.listeners[i].mapping),
                     key + " (\"" + l.name + "\") requires AUTH but no users are configured");
        if (clash(l.address, config.metrics.address))
            ctx.fail(where.metrics_address, "metrics.address: \"" + config.metrics.address.text +
                                                "\" clashes with listener \"" + l.name + "\" on \"" +
                                                l.address.text + "\"");
    }
}

}  // namespace rp::config::detail
