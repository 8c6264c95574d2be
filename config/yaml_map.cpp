// Checked YAML mapping reader (see yaml_map.hpp): key checks at
// construction, typed readers that keep defaults, secret forms.
// Error positions are yaml-cpp marks (0-based) printed 1-based.
#include "config/yaml_map.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace rp::config::detail {
namespace {

bool present(const YAML::Node& n) {
    return n.IsDefined() && !n.IsNull();
}

// Levenshtein distance, for "did you mean" on unknown keys.
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string suggestion(std::string_view key, std::initializer_list<const char*> keys) {
    std::string best;
    std::size_t best_d = 3;  // at most two edits away
    for (const char* k : keys) {
        std::size_t d = distance(key, k);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

std::string strip_trailing_newlines(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

// Reads a whole regular file; nullopt with `why` set otherwise.
std::optional<std::string> read_whole_file(const std::string& path, std::string& why) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
        return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = std::strerror(errno);
        return std::nullopt;
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

const char* kind_of(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "a scalar";
        default:
            return "nothing";
    }
}

void Context::fail(const YAML::Mark& mark, const std::string& message) const {
    int line = mark.is_null() ? 1 : mark.line + 1;
    int col = mark.is_null() ? 1 : mark.column + 1;
    throw ConfigError(file_, line, col, message);
}

std::string Context::input_path(const std::string& path) const {
    if (path.empty() || path.front() == '/' || base_dir_.empty()) return path;
    return base_dir_ + (base_dir_.back() == '/' ? "" : "/") + path;
}

std::string join_key(std::string_view parent, std::string_view key) {
    if (parent.empty()) return std::string(key);
    return std::string(parent) + "." + std::string(key);
}

std::string scalar_of(const Context& ctx, const YAML::Node& node, const std::string& key, const char* what) {
    if (!node.IsScalar()) ctx.fail(node.Mark(), key + ": expected " + what + ", got " + kind_of(node));
    return node.Scalar();
}

Map::Map(const Context& ctx, const YAML::Node& node, std::string path,
         std::initializer_list<const char*> keys, const YAML::Mark& fallback)
    : ctx_(ctx), path_(std::move(path)), mark_(node.IsDefined() ? node.Mark() : fallback) {
    if (mark_.is_null()) mark_ = fallback;
    if (!present(node)) return;  // absent or empty: every key takes its default
    if (!node.IsMap())
        ctx.fail(node.Mark(),
                 (path_.empty() ? "configuration" : path_) + ": expected a mapping, got " + kind_of(node));
    for (auto it = node.begin(); it != node.end(); ++it) {
        std::string name = scalar_of(ctx, it->first, path_.empty() ? "key" : path_ + " key", "a key name");
        bool known = std::any_of(keys.begin(), keys.end(), [&](const char* k) { return name == k; });
        if (!known)
            ctx.fail(it->first.Mark(),
                     "unknown key \"" + join_key(path_, name) + "\"" + suggestion(name, keys));
        if (find(name) != nullptr)
            ctx.fail(it->first.Mark(), "duplicate key \"" + join_key(path_, name) + "\"");
        entries_.push_back({name, it->first, it->second});
    }
}

const Map::Entry* Map::find(std::string_view name) const {
    for (const auto& e : entries_)
        if (e.key == name) return &e;
    return nullptr;
}

bool Map::has(std::string_view name) const {
    const Entry* e = find(name);
    return e != nullptr && present(e->value);
}

YAML::Node Map::value(std::string_view name) const {
    const Entry* e = find(name);
    return e != nullptr ? e->value : YAML::Node();
}

YAML::Mark Map::key_mark(std::string_view name) const {
    const Entry* e = find(name);
    return e != nullptr ? e->key_node.Mark() : mark_;
}

YAML::Mark Map::value_mark(std::string_view name) const {
    const Entry* e = find(name);
    if (e == nullptr) return mark_;
    YAML::Mark m = e->value.Mark();
    return m.is_null() ? e->key_node.Mark() : m;
}

void Map::missing(std::string_view name, const std::string& why) const {
    ctx_.fail(mark_, "missing key \"" + key(name) + "\"" + (why.empty() ? "" : " (" + why + ")"));
}

void Map::bad_value(std::string_view name, const std::string& message) const {
    ctx_.fail(value_mark(name), key(name) + ": " + message);
}

std::string Map::scalar(const Entry& e, const char* what) const {
    return scalar_of(ctx_, e.value, key(e.key), what);
}

bool Map::read(std::string_view name, std::string& out) const {
    if (!has(name)) return false;
    out = scalar(*find(name), "a string");
    return true;
}

bool Map::read(std::string_view name, bool& out) const {
    if (!has(name)) return false;
    std::string s = scalar(*find(name), "true or false");
    if (s == "true" || s == "True" || s == "TRUE") {
        out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
        out = false;
    } else {
        bad_value(name, "expected true or false, got \"" + s + "\"");
    }
    return true;
}

bool Map::read(std::string_view name, std::uint32_t& out, std::uint32_t min) const {
    if (!has(name)) return false;
    std::string s = scalar(*find(name), "a number");
    std::uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
        bad_value(name, "expected a whole number 0.." + std::to_string(UINT32_MAX) + ", got \"" + s + "\"");
    if (v < min) bad_value(name, "must be at least " + std::to_string(min));
    out = v;
    return true;
}

bool Map::read(std::string_view name, std::uint16_t& out, std::uint16_t min) const {
    std::uint32_t v = out;
    if (!read(name, v, min)) return false;
    if (v > 65535) bad_value(name, "must be at most 65535");
    out = static_cast<std::uint16_t>(v);
    return true;
}

bool Map::read_size(std::string_view name, std::uint64_t& out, std::uint64_t min) const {
    if (!has(name)) return false;
    std::string s = scalar(*find(name), "a size");
    auto v = parse_size(s);
    if (!v) bad_value(name, "invalid size \"" + s + "\" (bytes, or a number with k, M, G, KiB, MiB, GiB)");
    if (*v < min) bad_value(name, "must be at least " + std::to_string(min) + " bytes");
    out = *v;
    return true;
}

bool Map::read_duration(std::string_view name, Duration& out, bool allow_zero) const {
    if (!has(name)) return false;
    std::string s = scalar(*find(name), "a duration");
    auto v = parse_duration(s);
    if (!v) bad_value(name, "invalid duration \"" + s + "\" (a number with ms, s, m, h or d)");
    if (!allow_zero && v->count() == 0) bad_value(name, "must be longer than 0");
    out = *v;
    return true;
}

bool Map::read_endpoint(std::string_view name, Endpoint& out) const {
    if (!has(name)) return false;
    std::string s = scalar(*find(name), "an address");
    std::string why;
    auto ep = parse_endpoint(s, why);
    if (!ep) bad_value(name, "invalid address \"" + s + "\": " + why);
    out = *ep;
    return true;
}

bool Map::read_input_file(std::string_view name, std::string& out) const {
    std::string raw;
    if (!read(name, raw) || raw.empty()) return false;
    std::string path = ctx_.input_path(raw);
    std::string why;
    if (!read_whole_file(path, why)) bad_value(name, "cannot read \"" + path + "\": " + why);
    out = path;
    return true;
}

std::optional<Secret> Map::read_secret(std::string_view name) const {
    const std::string base(name);
    const std::string forms[3] = {base, base + "_file", base + "_env"};
    std::vector<const std::string*> given;
    for (const auto& f : forms) {
        // An empty string is "not set", as in SPEC's `token_file: ""`.
        if (has(f) && !scalar(*find(f), "a string").empty()) given.push_back(&f);
    }
    // Point at whichever extra form comes later in the file.
    std::sort(given.begin(), given.end(), [&](const std::string* a, const std::string* b) {
        return key_mark(*a).pos < key_mark(*b).pos;
    });
    if (given.size() > 1)
        ctx_.fail(key_mark(*given[1]), key(*given[1]) + ": give only one of " + key(base) + ", " +
                                           key(base + "_file") + " or " + key(base + "_env") +
                                           " (also set: " + key(*given[0]) + ")");
    const std::string* used = given.empty() ? nullptr : given[0];
    if (used == nullptr) return std::nullopt;
    Secret secret{"", value_mark(*used), key(*used)};
    std::string text = scalar(*find(*used), "a string");
    if (*used == forms[0]) {
        secret.value = text;
    } else if (*used == forms[1]) {
        std::string path = ctx_.input_path(text);
        std::string why;
        auto content = read_whole_file(path, why);
        if (!content) bad_value(*used, "cannot read \"" + path + "\": " + why);
        secret.value = strip_trailing_newlines(std::move(*content));
    } else {
        // Not echoed when it is no variable name: it may be the secret itself,
        // written into the _env form by mistake.
        bool name_ok =
            !(text[0] >= '0' && text[0] <= '9') && std::all_of(text.begin(), text.end(), [](char c) {
                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
            });
        if (!name_ok) bad_value(*used, "not an environment variable name (letters, digits, '_')");
        const char* env = std::getenv(text.c_str());
        if (env == nullptr) bad_value(*used, "environment variable \"" + text + "\" is not set");
        secret.value = strip_trailing_newlines(env);
    }
    if (secret.value.empty()) ctx_.fail(secret.mark, secret.key + ": the secret is empty");
    return secret;
}

}  // namespace rp::config::detail
