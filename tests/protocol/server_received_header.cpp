// Received: header builder: shape, RFC 3848 protocol names, sanitising of
// untrusted HELO text, IPv6 literals.
#include <doctest/doctest.h>

#include "protocol/received_header.hpp"

using namespace rp::protocol;

TEST_CASE("Received header") {
    ReceivedInfo info;
    info.helo = "client.example";
    info.client_addr = "192.0.2.7";
    info.hostname = "relay.example";
    info.protocol = "ESMTPSA";
    info.tls_version = "TLSv1.3";
    info.tls_cipher = "TLS_AES_256_GCM_SHA384";
    info.date = "Wed, 25 Nov 2026 19:00:00 +0000";
    CHECK(build_received_header(info) ==
          "Received: from client.example ([192.0.2.7])\r\n"
          "\tby relay.example (relaypool) with ESMTPSA\r\n"
          "\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384);\r\n"
          "\tWed, 25 Nov 2026 19:00:00 +0000\r\n");

    info.tls_version.clear();
    info.protocol = "ESMTP";
    info.client_addr = "2001:db8::1";
    CHECK(build_received_header(info) ==
          "Received: from client.example ([IPv6:2001:db8::1])\r\n"
          "\tby relay.example (relaypool) with ESMTP;\r\n"
          "\tWed, 25 Nov 2026 19:00:00 +0000\r\n");
}

TEST_CASE("Received header sanitises untrusted input") {
    ReceivedInfo info;
    info.helo = "evil\r\nBcc: x@y (paren)\x01\xc3\xa9";
    info.client_addr = "192.0.2.7";
    info.hostname = "relay.example";
    info.protocol = "ESMTPA";
    info.date = "d\r\nX: y";
    const std::string h = build_received_header(info);
    CHECK(h.find("\r\nBcc") == std::string::npos);
    CHECK(h.find("\r\nX:") == std::string::npos);
    CHECK(h.find("from evilBcc:x@y(paren)??") != std::string::npos);
    // every line end is CRLF followed by a TAB, except the last
    std::size_t lines = 0;
    for (std::size_t i = 0; i + 1 < h.size(); ++i) {
        if (h[i] == '\n') {
            CHECK(h[i - 1] == '\r');
            CHECK(h[i + 1] == '\t');
            ++lines;
        }
    }
    CHECK(h.substr(h.size() - 2) == "\r\n");
    info.helo = std::string(5000, 'h');
    CHECK(build_received_header(info).size() < 998);
    info.helo.clear();
    CHECK(build_received_header(info).find("from unknown ([192.0.2.7])") != std::string::npos);
}
