// Fuzzes the YAML configuration as `relaypool check-config` reads it: the
// whole loader (yaml-cpp, every section, the cross-section validation).
// Properties: a hostile file gives a Config or a ConfigError (never another
// exception, never a crash), the error's what() is "FILE:LINE:COL: message"
// with a one-line message (what check-config prints), and a Config that
// loads reloads from the same text to the same listeners and accounts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.hpp"

using namespace rp::config;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string yaml(reinterpret_cast<const char*>(data), size);
    // Relative *_file paths resolve as in tests/config: "../secrets/x" are
    // the test data's small fake secrets (RP_FUZZ_CONFIG_DIR, set by CMake).
    const std::string base = RP_FUZZ_CONFIG_DIR;
    try {
        const Config c = load_string(yaml, "fuzz.yaml", base);
        const Config again = load_string(yaml, "fuzz.yaml", base);
        require(again.listeners.size() == c.listeners.size());
        require(again.pool.accounts.size() == c.pool.accounts.size());
        for (const auto& a : c.pool.accounts) require(!a.username.empty());
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        require(what.rfind("fuzz.yaml:", 0) == 0 && e.line() >= 0 && e.column() >= 0);
        require(!e.message().empty() && e.message().find('\n') == std::string::npos);
    }
    return 0;
}
