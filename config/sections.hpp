// Internal to config/: one loader function per top-level section of the
// YAML file, plus the positions the cross-section checks (open relay,
// missing users, address clashes) need to point their errors at.
// Each function validates what it can see alone and throws ConfigError.
#pragma once

#include <optional>
#include <vector>

#include "config/yaml_map.hpp"

namespace rp::config::detail {

struct ListenerWhere {
    YAML::Mark mapping;       // the listener's mapping (root for defaults)
    YAML::Mark require_auth;  // its require_auth value, else the mapping
    YAML::Mark address;       // its address value, else the mapping
};

struct Where {
    YAML::Mark root;
    std::vector<ListenerWhere> listeners;
    std::optional<YAML::Mark> users_key;
    YAML::Mark metrics_address;
};

void load_hostname(const Map& root, Config& config);
void load_listeners(const Map& root, Config& config, Where& where);
void load_tls(const Map& root, Config& config);  // after listeners
void load_users(const Map& root, Config& config, Where& where);
void load_trusted_networks(const Map& root, Config& config);
void load_limits(const Map& root, Config& config);
void load_queue(const Map& root, Config& config);
void load_upstream(const Map& root, Config& config);
void load_pool(const Map& root, Config& config);
void load_metrics_admin_logging(const Map& root, Config& config, Where& where);

// Checks that need several sections: no open relay, AUTH with users to
// authenticate, no two sockets on one address.
void check_cross_section(const Context& ctx, const Config& config, const Where& where);

// exposure.cpp. `networks` (trusted_networks, a listener's
// proxy_protocol_from) ends with the entry just read (at `mark`, named
// `key`); refuses it when it is too broad or brings the list's public
// addresses over the limit. `consequence` ends the message for an entry
// that trusts every address.
void check_network_breadth(const Context& ctx, const YAML::Mark& mark, const std::string& key,
                           const std::vector<Cidr>& networks, std::string_view consequence);
// No PROXY protocol on a require_auth: false listener.
void check_proxy_protocol(const Map& listener, const Listener& l);

// The node of a list-valued key, checked to be a list (absent/empty = no
// items).
std::vector<YAML::Node> list_items(const Map& map, std::string_view name);

// Reads an enumeration: `choices` maps the YAML spelling to the value.
template <typename E>
bool read_enum(const Map& map, std::string_view name, E& out,
               std::initializer_list<std::pair<const char*, E>> choices) {
    std::string text;
    if (!map.read(name, text)) return false;
    std::string expected;
    for (const auto& [spelling, value] : choices) {
        if (text == spelling) {
            out = value;
            return true;
        }
        expected += (expected.empty() ? "" : ", ") + std::string(spelling);
    }
    map.bad_value(name, "expected one of " + expected + "; got \"" + text + "\"");
}

}  // namespace rp::config::detail
