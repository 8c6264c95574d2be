// Replays every tests/protocol/dialogues/*.txt script against the sans-IO
// ServerSession (see server_dialogue_runner.hpp for the script language),
// and checks that the runner itself rejects a wrong expectation.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "server_dialogue_runner.hpp"

namespace fs = std::filesystem;

TEST_CASE("dialogue files") {
    const fs::path dir = fs::path(RP_SOURCE_DIR) / "tests/protocol/dialogues";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".txt") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() >= 20);
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::string script((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto failures = rp::test::run_dialogue(script);
        for (const auto& fl : failures)
            FAIL_CHECK(f.filename().string() << ":" << fl.line << ": " << fl.message);
    }
}

TEST_CASE("the dialogue runner catches mismatches") {
    using rp::test::run_dialogue;
    CHECK(run_dialogue("S: 220 relay.test ESMTP relaypool\nC: NOOP\nS: 250 2.0.0 Ok\n").empty());
    CHECK_FALSE(run_dialogue("S: 220 relay.test ESMTP relaypool\nC: NOOP\nS: 251*\n").empty());
    CHECK_FALSE(run_dialogue("S: 220 relay.test ESMTP relaypool\nC: NOOP\n").empty());  // unmatched reply
    CHECK_FALSE(run_dialogue("S: 220*\nA: starttls\n").empty());
    CHECK(rp::test::unescape("a\\r\\n{{3*x}}\\x41") == "a\r\nxxxA");
}
