// ServerSession's temporary AUTH outcome: auth_unavailable() (the driver
// could not check the credentials, e.g. its checkers are overloaded) answers
// 454 4.7.0, does not count as a failed AUTH, and the session stays usable.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "protocol/server_session.hpp"

using namespace rp::protocol;

TEST_CASE("session: auth_unavailable answers 454 4.7.0 and does not count as a failure") {
    SessionOptions o;
    o.hostname = "relay.test";
    o.tls = TlsMode::implicit;
    o.max_auth_failures = 2;
    ServerSession s(o);
    s.feed("EHLO c\r\n");
    REQUIRE(std::holds_alternative<action::Write>(s.next()));
    for (int i = 0; i < 3; ++i) {  // more than max_auth_failures: still open
        s.feed("AUTH PLAIN AHUAcA==\r\n");
        REQUIRE(std::holds_alternative<action::VerifyAuth>(s.next()));
        CHECK_THROWS_AS(s.next(), std::logic_error);
        s.auth_unavailable();
        Action a = s.next();
        REQUIRE(std::holds_alternative<action::Write>(a));
        CHECK(std::get<action::Write>(a).bytes == "454 4.7.0 Temporary authentication failure\r\n");
        CHECK_FALSE(s.authenticated());
    }
    CHECK_THROWS_AS(s.auth_unavailable(), std::logic_error);  // nothing awaited
    s.feed("AUTH PLAIN AHUAcA==\r\n");
    REQUIRE(std::holds_alternative<action::VerifyAuth>(s.next()));
    s.auth_result(true);
    Action a = s.next();
    REQUIRE(std::holds_alternative<action::Write>(a));
    CHECK(std::get<action::Write>(a).bytes == "235 2.7.0 Authentication successful\r\n");
    CHECK(s.auth_user() == "u");
}
