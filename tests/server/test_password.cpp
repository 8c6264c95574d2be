// server/password: yescrypt hashes that verify, verification of the three
// supported schemes against hashes made by another libcrypt caller
// (Python's crypt module), and rejection of wrong passwords, unsupported
// schemes and malformed hashes.
#include <doctest/doctest.h>

#include <string>

#include "server/password.hpp"

using rp::server::hash_password;
using rp::server::is_supported_hash;
using rp::server::verify_password;

TEST_CASE("hash_password makes a yescrypt hash that verifies only its password") {
    auto hash = hash_password("correct horse");
    REQUIRE(hash);
    CHECK(hash->starts_with("$y$"));
    CHECK(is_supported_hash(*hash));
    CHECK(verify_password("correct horse", *hash));
    CHECK(!verify_password("correct horsE", *hash));
    CHECK(!verify_password("correct horse ", *hash));
    CHECK(!verify_password("", *hash));
    auto again = hash_password("correct horse");
    REQUIRE(again);
    CHECK(*again != *hash);  // fresh salt each time
}

TEST_CASE("verify_password accepts $y$, $2b$ and $6$ and nothing else") {
    struct Row {
        const char* hash;
        bool supported;
    };
    // All hashes of "tr0ub4dor", made outside relaypool.
    const Row rows[] = {
        {"$2b$04$pguuIzEPYl.zcw4jBCxo3ufYhj10HI7R6u062uDotlvBPKbYCNvlS", true},
        {"$6$CO60p2mqOlccdTsz$SdGCyEkI6yNHYMFhcRD.562CcEIxaonYyeEfEFBo7NHt5x1taJOAgDHMwKqzDiXLtoZDcFL0Si803x/"
         "lUhkUH.",
         true},
        {"$6$rounds=5000$abcdefgh$3OWlQ78JHYFy3uCuxfpNY1Iupf.I1NRx1sbnuxe5l2yZ7.5zwCelg81aepP7s/"
         "HC5jo7aiYHRhAfaB0Wj0ZPc.",
         true},
        {"$1$KkMV9BLg$ohKA1IejAyhSZgT2h0auF0", false},                               // MD5: too weak
        {"$5$77VofRaonohrbDrg$TlQ6PjJM84sqfItf5fjlbMaO4IWXlAmRsWyiV95fqUC", false},  // SHA-256: not offered
    };
    for (const auto& r : rows) {
        CAPTURE(r.hash);
        CHECK(is_supported_hash(r.hash) == r.supported);
        CHECK(verify_password("tr0ub4dor", r.hash) == r.supported);
        CHECK(!verify_password("tr0ub4dox", r.hash));
    }
    auto y = hash_password("tr0ub4dor");
    REQUIRE(y);
    CHECK(verify_password("tr0ub4dor", *y));
}

TEST_CASE("malformed hashes and odd passwords never verify") {
    auto hash = hash_password("pw");
    REQUIRE(hash);
    const std::string malformed[] = {
        "", "*", "*0", "$y$", "pw", hash->substr(0, hash->size() - 1), *hash + "x", "$y$j9T$$$",
    };
    for (const auto& m : malformed) {
        CAPTURE(m);
        CHECK(!verify_password("pw", m));
    }
    CHECK(!verify_password(std::string("pw\0", 3), *hash));  // an embedded NUL is not "pw"
}
