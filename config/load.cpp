// Entry points of the configuration loader: load_file / load_string.
// Parses YAML (syntax errors keep yaml-cpp's position), walks the sections
// in file order, then runs the cross-section checks. Any failure is one
// ConfigError "FILE:LINE:COL: message"; no partially loaded Config escapes.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>

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

// Where each document starts, for the first two. yaml-cpp 0.7's LoadAll
// never returns on a stray ',' at document level (the parser yields empty
// documents forever, allocating: `check-config` on a file holding "," ran
// out of memory; found by fuzz_config), so documents are counted with a
// bound before anything is loaded.
struct DocumentStarts : YAML::EventHandler {
    std::vector<YAML::Mark> starts;  // each document's first node (as Node::Mark() gives it)
    bool first_node = false;
    void node(const YAML::Mark& mark) {
        if (first_node) starts.back() = mark;
        first_node = false;
    }
    void OnDocumentStart(const YAML::Mark& mark) override {
        starts.push_back(mark);
        first_node = true;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}
};

}  // namespace

Config load_string(const std::string& yaml, const std::string& name, const std::string& base_dir) {
    detail::Context ctx(name, base_dir);
    YAML::Node doc;
    DocumentStarts documents;
    try {
        std::istringstream in(yaml);
        YAML::Parser parser(in);
        while (documents.starts.size() < 2 && parser.HandleNextDocument(documents)) {
        }
        // A second document would be silently ignored by a plain Load.
        if (documents.starts.size() > 1)
            ctx.fail(documents.starts[1], "only one YAML document is allowed; remove the second \"---\"");
        if (!documents.starts.empty()) doc = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
        ctx.fail(e.mark, "YAML syntax error: " + e.msg);
    }
    return load_root(ctx, doc);
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
