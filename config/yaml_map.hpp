// Internal to config/: a checked view of one YAML mapping of the config file.
//
// A Map is built with the keys its section allows; the constructor rejects a
// node that is not a mapping, duplicate keys and unknown keys (in document
// order, before any value is read, so a misspelled key is reported as
// unknown rather than as the missing key it was meant to be). The typed
// readers leave the caller's default in place when a key is absent or has
// no value, and fail with a ConfigError at the value's position otherwise.
// Secret values are never put into an error message.
// Only config/*.cpp include this header (it exposes yaml-cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace rp::config::detail {

// Where errors go and how paths in the file are resolved.
class Context {
  public:
    Context(std::string file, std::string base_dir)
        : file_(std::move(file)), base_dir_(std::move(base_dir)) {}
    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const;
    // Files the config reads (secrets, keys, CA bundles) resolve against the
    // config file's directory; absolute paths are kept.
    std::string input_path(const std::string& path) const;
    const std::string& file() const { return file_; }

  private:
    std::string file_;
    std::string base_dir_;
};

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string join_key(std::string_view parent, std::string_view key);

// A value that came from a secret field: the text plus where to point
// errors about it (the key, since the value itself must not be shown).
struct Secret {
    std::string value;
    YAML::Mark mark;
    std::string key;  // the form actually used, e.g. "pool.accounts[3].password_file"
};

class Map {
  public:
    Map(const Context& ctx, const YAML::Node& node, std::string path, std::initializer_list<const char*> keys,
        const YAML::Mark& fallback = YAML::Mark::null_mark());

    const Context& ctx() const { return ctx_; }
    const std::string& path() const { return path_; }
    std::string key(std::string_view name) const { return join_key(path_, name); }
    // Position of the mapping itself (for "missing key" errors).
    const YAML::Mark& mark() const { return mark_; }
    // Present with a non-null value.
    bool has(std::string_view name) const;
    // Written in the file at all (possibly with no value).
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    // The value node; undefined-or-null when absent.
    YAML::Node value(std::string_view name) const;
    // Position of the key when present, else of the mapping.
    YAML::Mark key_mark(std::string_view name) const;
    YAML::Mark value_mark(std::string_view name) const;
    [[noreturn]] void missing(std::string_view name, const std::string& why = "") const;
    [[noreturn]] void bad_value(std::string_view name, const std::string& message) const;

    // Typed readers: return false (out untouched) when absent.
    bool read(std::string_view name, std::string& out) const;
    bool read(std::string_view name, bool& out) const;
    bool read(std::string_view name, std::uint32_t& out, std::uint32_t min = 0) const;
    bool read(std::string_view name, std::uint16_t& out, std::uint16_t min = 0) const;
    bool read_size(std::string_view name, std::uint64_t& out, std::uint64_t min = 0) const;
    bool read_duration(std::string_view name, Duration& out, bool allow_zero) const;
    bool read_endpoint(std::string_view name, Endpoint& out) const;
    // A path of a file the config reads: resolved against the config
    // directory and required to be a readable regular file. "" = unset.
    bool read_input_file(std::string_view name, std::string& out) const;
    // Exactly one of NAME, NAME_file, NAME_env. nullopt when none is given.
    std::optional<Secret> read_secret(std::string_view name) const;

  private:
    struct Entry {
        std::string key;
        YAML::Node key_node;
        YAML::Node value;
    };
    const Entry* find(std::string_view name) const;
    std::string scalar(const Entry& e, const char* what) const;

    const Context& ctx_;
    std::string path_;
    YAML::Mark mark_;
    std::vector<Entry> entries_;
};

// "a mapping", "a list", "a scalar" or "nothing", for type errors.
const char* kind_of(const YAML::Node& node);

// The scalar text of a node, or a "expected X, got a mapping" error.
std::string scalar_of(const Context& ctx, const YAML::Node& node, const std::string& key, const char* what);

// Internal parsers shared by the loader and the tests of this folder.
std::optional<Endpoint> parse_endpoint(const std::string& text, std::string& why);
std::optional<Cidr> parse_cidr(const std::string& text, std::string& why);

}  // namespace rp::config::detail
