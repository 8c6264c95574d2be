// Test helper: a TCP connection to 127.0.0.1:port with a 10 s receive
// timeout, so a test that waits for a reply that never comes fails instead
// of hanging. Used by the unit tests that talk to a real listener.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cstdint>

namespace rp::test {

// Returns the connected socket; the caller closes it. `from`: the source
// address, another loopback one (127.0.0.2) to look like a second host.
inline int connect_loopback(std::uint16_t port, const char* from = nullptr) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (from != nullptr) {
        sockaddr_in source{};
        source.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, from, &source.sin_addr) == 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) == 0);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

}  // namespace rp::test
