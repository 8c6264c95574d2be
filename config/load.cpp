// Entry points of the configuration loader: load_file / load_string.
// Parses YAML (syntax errors keep yaml-cpp's position), walks the sections
// in file order, then runs the cross-section checks. Any failure is one
// ConfigError "FILE:LINE:COL: message"; no partially loaded Config escapes.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/sections.hpp"

namespace rp::config {
namespace {

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

Config load_root(const detail::Context& ctx, const YAML::Node& doc) {
    using namespace detail;
    Map root(ctx, doc, "",
             {"hostname", "listeners", "tls", "users", "trusted_networks", "limits", "queue", "upstream",
              "pool", "metrics", "admin", "logging"},
             YAML::Mark());
    Config config;
    config.source = ctx.file();
    Where where;
    where.root = root.mark();
    load_hostname(root, config);
    load_listeners(root, config, where);
    load_tls(root, config);
    load_users(root, config, where);
    load_trusted_networks(root, config);
    load_limits(root, config);
    load_queue(root, config);
    load_upstream(root, config);
    load_pool(root, config);
    load_metrics_admin_logging(root, config, where);
    check_cross_section(ctx, config, where);
    return config;
}

}  // namespace

Config load_string(const std::string& yaml, const std::string& name, const std::string& base_dir) {
    detail::Context ctx(name, base_dir);
    std::vector<YAML::Node> docs;
    try {
        docs = YAML::LoadAll(yaml);
    } catch (const YAML::Exception& e) {
        ctx.fail(e.mark, "YAML syntax error: " + e.msg);
    }
    // A second document would be silently ignored by a plain Load.
    if (docs.size() > 1)
        ctx.fail(docs[1].Mark(), "only one YAML document is allowed; remove the second \"---\"");
    return load_root(ctx, docs.empty() ? YAML::Node() : docs[0]);
}

Config load_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        throw ConfigError(path, 0, 0, "cannot read the configuration: is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError(path, 0, 0, std::string("cannot read the configuration: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ConfigError(path, 0, 0, "cannot read the configuration");
    return load_string(text.str(), path, directory_of(path));
}

}  // namespace rp::config
