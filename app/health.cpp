// `relaypool health` (see health.hpp): plan the probe, judge the answer.
#include "app/health.hpp"

#include <iostream>

#include "app/admin_render.hpp"
#include "app/cli.hpp"

namespace rp::app::health {
namespace {

std::string endpoint_text(const Probe& p) {
    std::string base = p.url.text;
    while (base.ends_with('/')) base.pop_back();
    return base + p.path;
}

// The body is the server's (or whatever answered's) text: one line, bounded.
std::string reason_of(const std::string& body) {
    std::string text = admin::one_line(body, "(empty body)");
    if (text.size() > max_reason_bytes) text = text.substr(0, max_reason_bytes) + "...";
    return text;
}

}  // namespace

ProbeResult plan(const std::optional<std::string>& url_text, bool ready) {
    auto parsed = admin::parse_admin_url(url_text.value_or(admin::default_admin_url));
    if (!parsed.url) {
        // parse_admin_url names the option --admin; health's own is --url.
        std::string error = parsed.error;
        if (error.starts_with("--admin ")) error.replace(0, 7, "--url");
        return {std::nullopt, error};
    }
    return {Probe{std::move(*parsed.url), ready ? "/readyz" : "/healthz"}, ""};
}

Verdict judge(const Probe& probe, const admin::CallResult& result) {
    const std::string where = endpoint_text(probe);
    const bool ready = probe.path == "/readyz";
    if (!result.reply) {
        // The client's text says "the admin API at URL"; here it is the server itself.
        std::string error = result.error;
        const std::string named = "the admin API at " + probe.url.text;
        if (auto at = error.find(named); at != std::string::npos)
            error.replace(at, named.size(), "relaypool");
        return {1, std::string(ready ? "not ready" : "unhealthy") + ": " + where + ": " + error + "\n"};
    }
    const auto& reply = *result.reply;
    if (reply.status == 200) return {0, std::string(ready ? "ready" : "healthy") + ": " + where + "\n"};
    return {1, std::string(ready ? "not ready" : "unhealthy") + ": " + where + " answered HTTP " +
                   std::to_string(reply.status) + ": " + reason_of(reply.body) + "\n"};
}

}  // namespace rp::app::health

namespace rp::app {

int run_health(const Options& options) {
    auto planned = health::plan(options.url ? options.url : options.admin, options.ready);
    if (!planned.probe) {
        std::cerr << "relaypool: " << planned.error << "\n";
        return exit_usage;
    }
    auto result = admin::call(planned.probe->url, "GET", planned.probe->path, "", health::health_timeout);
    auto verdict = health::judge(*planned.probe, result);
    (verdict.exit_code == 0 ? std::cout : std::cerr) << verdict.message;
    return verdict.exit_code;
}

}  // namespace rp::app
