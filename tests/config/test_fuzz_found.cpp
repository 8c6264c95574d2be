// What fuzz_config found in the loader, as tests (the crasher itself is
// replayed from tests/fuzz/regressions/fuzz_config/): yaml-cpp 0.7's LoadAll
// looped forever, allocating, on a stray ',' at document level, so
// `check-config` on such a file ran out of memory. Now a ConfigError.
#include <doctest/doctest.h>

#include <string>

#include "config/config.hpp"

using rp::config::ConfigError;
using rp::config::load_string;

TEST_CASE("config: a stray ',' at document level is an error, not an endless parse") {
    for (const char* text : {",", ", not to this file.", "hostname: x\n,\n"}) {
        INFO(text);
        CHECK_THROWS_AS(load_string(text, "t.yaml"), ConfigError);
    }
}

TEST_CASE("config: two documents are still refused at the second one") {
    try {
        load_string("hostname: a\n---\nhostname: b\n", "t.yaml");
        FAIL("loaded two documents");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).rfind("t.yaml:3:1: ", 0) == 0);  // the second document's first node
        CHECK(e.message().find("only one YAML document") != std::string::npos);
    }
}

TEST_CASE("config: a YAML syntax error quoting a line end is still one line") {
    try {
        load_string("hostname: \"a\\\rb\"\n", "t.yaml");  // a backslash, then a bare CR
        FAIL("loaded a bad escape");
    } catch (const ConfigError& e) {
        CHECK(e.message().find("YAML syntax error") != std::string::npos);
        CHECK(e.message().find('\n') == std::string::npos);
    }
}

TEST_CASE("config: a value quoted in an error cannot add lines to it") {
    try {
        load_string("\"x\\n:3:1: forged\": 1\n", "t.yaml");  // a key holding a line end
        FAIL("loaded an unknown key");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find('\n') == std::string::npos);
        CHECK(e.message() == "unknown key \"x?:3:1: forged\"");
    }
}
