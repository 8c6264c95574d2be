// The pure half of `relaypool serve --sandbox` (see sandbox.hpp): its
// command-line options and the embedded configuration text. No files, no
// network, so tests/app can table-drive it.
#include <fmt/format.h>

#include <charconv>

#include "app/cli.hpp"
#include "app/sandbox.hpp"

namespace rp::app {
namespace {

// "--name V" or "--name=V"; true when args[i] is this option.
bool take_value(const std::vector<std::string>& args, std::size_t& i, std::string_view name,
                std::string& value, std::string& error) {
    const std::string& arg = args[i];
    if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
        value = arg.substr(name.size() + 1);
        return true;
    }
    if (arg != name) return false;
    if (i + 1 >= args.size()) {
        error = fmt::format("option {} needs a value", name);
        return true;
    }
    value = args[++i];
    return true;
}

bool parse_port(std::string_view name, const std::string& text, std::uint16_t& port, std::string& error) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > 65535) {
        error = fmt::format("{} needs a port number from 1 to 65535, not \"{}\"", name, text);
        return false;
    }
    port = static_cast<std::uint16_t>(value);
    return true;
}

// A YAML double-quoted scalar; control bytes are refused by the caller.
std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

// demo-password, hashed with `relaypool hash-password` (yescrypt).
constexpr const char* kDemoHash = "$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3";

}  // namespace

bool take_sandbox_option(const std::vector<std::string>& args, std::size_t& i, SandboxOptions& out,
                         std::string& error) {
    const std::string& arg = args[i];
    if (arg == "--sandbox") {
        out.enabled = true;
        return true;
    }
    struct Port {
        const char* name;
        std::uint16_t& port;
    };
    const Port ports[] = {{"--port-submission", out.submission_port},
                          {"--port-smtps", out.smtps_port},
                          {"--port-metrics", out.metrics_port}};
    std::string value;
    for (const auto& p : ports) {
        if (!take_value(args, i, p.name, value, error)) continue;
        if (out.first_option.empty()) out.first_option = p.name;
        if (error.empty()) parse_port(p.name, value, p.port, error);
        return true;
    }
    if (!take_value(args, i, "--data-dir", value, error)) return false;
    if (out.first_option.empty()) out.first_option = "--data-dir";
    if (!error.empty()) return true;
    for (char c : value)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            error = "--data-dir: control characters in the path";
    if (value.empty()) error = "--data-dir needs a directory name";
    if (error.empty()) out.data_dir = value;
    return true;
}

std::string sandbox_usage_error(const Options& o, bool config_given) {
    const SandboxOptions& s = o.sandbox;
    if (!s.enabled) {
        if (s.first_option.empty()) return "";
        return s.first_option +
               " only applies to serve --sandbox (with a configuration file, set "
               "listeners, metrics.address and the directories there)";
    }
    if (config_given) return "--sandbox runs the configuration built into relaypool; it takes no --config";
    if (!(o.words.empty() || (o.words.size() == 1 && o.words[0] == "serve")))
        return "--sandbox only applies to serve";
    if (s.submission_port == s.smtps_port || s.submission_port == s.metrics_port ||
        s.smtps_port == s.metrics_port)
        return "the sandbox ports (--port-submission, --port-smtps, --port-metrics) must differ";
    return "";
}

std::string sandbox_yaml(const SandboxOptions& o, const std::string& data_dir, const SandboxTlsPaths& tls) {
    return fmt::format(
        R"(# relaypool serve --sandbox: the configuration built into the binary.
hostname: localhost
listeners:
  - name: submission
    address: "127.0.0.1:{submission}"
    tls: starttls
  - name: smtps
    address: "127.0.0.1:{smtps}"
    tls: implicit
tls:
  certificate: {certificate}
  private_key: {private_key}
users:
  - username: demo
    password_hash: "{hash}"
queue:
  directory: {spool}
upstream:
  sandbox: {mail}
pool:
  strategy: round-robin
  state: {state}
  accounts:
    - username: sandbox01@example.com
      password: sandbox-dummy-password-01
    - username: sandbox02@example.com
      password: sandbox-dummy-password-02
metrics:
  address: "127.0.0.1:{metrics}"
logging:
  level: info
  format: text
)",
        fmt::arg("submission", o.submission_port), fmt::arg("smtps", o.smtps_port),
        fmt::arg("metrics", o.metrics_port), fmt::arg("certificate", quoted(tls.certificate)),
        fmt::arg("private_key", quoted(tls.private_key)), fmt::arg("hash", kDemoHash),
        fmt::arg("spool", quoted(data_dir + "/spool")), fmt::arg("mail", quoted(data_dir + "/mail")),
        fmt::arg("state", quoted(data_dir + "/pool.state")));
}

}  // namespace rp::app
