// Table-driven tests of the configuration value parsers: sizes (SI vs IEC
// units), durations (plain integer = seconds), CIDR matching (IPv4, IPv6,
// IPv4-mapped IPv6), the password-hash shape check and Redis addresses
// (never quoting what may be a password).
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/redis_url.hpp"
#include "config/yaml_map.hpp"

using namespace rp::config;

TEST_CASE("parse_size") {
    struct Row {
        const char* text;
        std::optional<std::uint64_t> bytes;
    };
    const Row rows[] = {
        {"0", 0},
        {"1024", 1024},
        {"35882577", 35882577},
        {"100B", 100},
        {"10k", 10'000},
        {"10K", 10'000},
        {"10kB", 10'000},
        {"10KB", 10'000},
        {"10KiB", 10'240},
        {"35MiB", 35ull * 1024 * 1024},
        {"35 MiB", 35ull * 1024 * 1024},
        {"35M", 35'000'000},
        {"35MB", 35'000'000},
        {"2G", 2'000'000'000},
        {"2GiB", 2ull * 1024 * 1024 * 1024},
        {"", std::nullopt},
        {"MiB", std::nullopt},
        {"-1", std::nullopt},
        {"1.5M", std::nullopt},
        {"35XB", std::nullopt},
        {"35mib", std::nullopt},
        {"35  MiB", std::nullopt},
        {" 35", std::nullopt},
        {"18446744073709551615", 18446744073709551615ull},
        {"18446744073709551616", std::nullopt},
        {"18446744073709551615k", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_size(r.text) == r.bytes);
    }
}

TEST_CASE("parse_duration") {
    using namespace std::chrono;
    struct Row {
        const char* text;
        std::optional<Duration> value;
    };
    const Row rows[] = {
        {"250ms", milliseconds(250)},
        {"90s", seconds(90)},
        {"15m", minutes(15)},
        {"24h", hours(24)},
        {"5d", hours(120)},
        {"0s", Duration(0)},
        {"300", seconds(300)},  // a plain integer is seconds
        {"", std::nullopt},
        {"s", std::nullopt},
        {"5 days", std::nullopt},
        {"1h30m", std::nullopt},
        {"1.5h", std::nullopt},
        {"-5s", std::nullopt},
        {"5w", std::nullopt},
        {"9223372036854775807ms", milliseconds(9223372036854775807LL)},
        {"9223372036854775808ms", std::nullopt},
        {"999999999999999999d", std::nullopt},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        CHECK(parse_duration(r.text) == r.value);
    }
}

TEST_CASE("Cidr::contains") {
    struct Row {
        const char* network;
        const char* address;
        bool inside;
    };
    const Row rows[] = {
        {"10.0.0.0/8", "10.1.2.3", true},
        {"10.0.0.0/8", "11.0.0.0", false},
        {"10.0.0.0/8", "::ffff:10.9.9.9", true},  // dual-stack socket
        {"10.0.0.0/8", "::ffff:11.9.9.9", false},
        {"10.0.0.0/8", "fd00::1", false},
        {"192.168.1.0/25", "192.168.1.127", true},
        {"192.168.1.0/25", "192.168.1.128", false},
        {"192.168.1.7", "192.168.1.7", true},
        {"192.168.1.7", "192.168.1.8", false},
        {"fd00::/8", "fd12:3456::1", true},
        {"fd00::/8", "fe80::1", false},
        {"fd00::/8", "[fd00::1]", true},
        {"fe80::/10", "fe80::1%eth0", true},
        {"2001:db8::/127", "2001:db8::1", true},
        {"2001:db8::/127", "2001:db8::2", false},
        {"::ffff:0:0/96", "10.0.0.1", true},
        {"10.0.0.0/8", "not-an-address", false},
        {"10.0.0.0/8", "", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.network);
        CAPTURE(r.address);
        std::string why;
        auto cidr = detail::parse_cidr(r.network, why);
        REQUIRE_MESSAGE(cidr, why);
        CHECK(cidr->contains(r.address) == r.inside);
    }
}

TEST_CASE("parse_cidr rejects malformed networks") {
    for (const char* text : {"10.0.0.0/33", "10.1.0.0/8", "10.0.0.0/", "10.0.0/8", "fd00::/129", "fd00::1/8",
                             "example.com/8", "10.0.0.0/-1", "10.0.0.0/8x"}) {
        CAPTURE(text);
        std::string why;
        CHECK(!detail::parse_cidr(text, why));
        CHECK(!why.empty());
    }
}

TEST_CASE("parse_endpoint") {
    struct Row {
        const char* text;
        const char* host;  // nullptr: invalid
        int port;
    };
    const Row rows[] = {
        {"0.0.0.0:587", "0.0.0.0", 587},
        {"[::]:465", "::", 465},
        {"smtp.gmail.com:587", "smtp.gmail.com", 587},
        {"localhost:1", "localhost", 1},
        {"0.0.0.0", nullptr, 0},
        {"::1:587", nullptr, 0},
        {"[::1]587", nullptr, 0},
        {"[nope]:587", nullptr, 0},
        {"host:0", nullptr, 0},
        {"host:65536", nullptr, 0},
        {"host:58x", nullptr, 0},
        {":587", nullptr, 0},
        {"bad host:587", nullptr, 0},
    };
    for (const auto& r : rows) {
        CAPTURE(r.text);
        std::string why;
        auto ep = detail::parse_endpoint(r.text, why);
        REQUIRE(ep.has_value() == (r.host != nullptr));
        if (!ep) continue;
        CHECK(ep->host == r.host);
        CHECK(ep->port == r.port);
        CHECK(ep->text == r.text);
    }
}

TEST_CASE("is_supported_password_hash") {
    struct Row {
        const char* hash;
        bool ok;
    };
    const Row rows[] = {
        {"$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3", true},
        {"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", true},
        {"$6$SuNUl9TVcwsFK267$3De7pI0ch7xHSRxOO9tF1Vuz5ECwZ1hITjwraVEQP/"
         "wZOgA.7lanCz4kbXNn5UCrumIvAqlhAXljNQxdDg0rk0",
         true},
        {"$6$rounds=10000$saltsalt$3De7pI0ch7xHSRxOO9tF1Vuz5ECwZ1hITjwraVEQP/"
         "wZOgA.7lanCz4kbXNn5UCrumIvAqlhAXljNQxdDg0rk0",
         true},
        {"$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU", false},  // short
        {"$y$j9T$$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3", false},
        {"$y$...", false},
        {"$2b$99$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", false},
        {"$2a$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", false},
        {"$1$abc$notsupportedmd5", false},
        {"$5$salt$hash", false},
        {"plaintext-password", false},
        {"", false},
    };
    for (const auto& r : rows) {
        CAPTURE(r.hash);
        CHECK(is_supported_password_hash(r.hash) == r.ok);
    }
}

TEST_CASE("parse_redis_url: options, and no piece of a password in any error") {
    struct Row {
        const char* text;
        bool ok;
        const char* secret;  // must not appear in the error ("" = nothing to hide)
    };
    const Row rows[] = {
        {"redis://127.0.0.1:6379/2", true, ""},
        {"rediss://r.internal:6380/3?prefix=mail&poll_ms=500", true, ""},
        {"redis://r:6379/0?ca_file=/run/credentials/relaypool@eu.service/ca.pem", true, ""},
        {"redis://r:6379/0?prefix=team@eu", true, ""},
        {"redis://:s3cret@r:6379/0", false, "s3cret"},
        {"redis://user:s3cret@r:6379/0", false, "s3cret"},
        {"redis://:pa/qq9@r:6379/0", false, "qq9"},
        {"redis://:s3cr?tail@r:6379/0", false, "tail"},
        {"redis://:s3cr?t&x@r:6379/0?prefix=p", false, "x@"},
        {"redis://:s3cr?k=v@r/0", false, "v@"},
        {"redis://r:6379/0?nope=1", false, ""},
        {"redis://r:6379/16", false, ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        std::string why;
        const auto url = parse_redis_url(row.text, why);
        CHECK(url.has_value() == row.ok);
        if (row.ok) continue;
        CHECK(!why.empty());
        if (*row.secret) CHECK(why.find(row.secret) == std::string::npos);
        if (*row.secret) CHECK(redis_url_for_logs(row.text).find(row.secret) == std::string::npos);
    }
    std::string why;
    CHECK(parse_redis_url("redis://r:6379/0?prefix=team@eu", why)->prefix == "team@eu");
}
