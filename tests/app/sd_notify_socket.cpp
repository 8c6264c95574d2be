// sd_notify without libsystemd: the datagram arrives on a real AF_UNIX
// socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
// namespace); without the variable nothing is sent and nothing fails.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "app/sd_notify.hpp"

namespace {

// A bound datagram socket; `name` starting with '@' is abstract.
struct Listener {
    int fd = -1;
    explicit Listener(const std::string& name) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, name.data(), name.size());
        if (name[0] == '@') addr.sun_path[0] = '\0';
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~Listener() { ::close(fd); }
    std::string receive() const {
        char buf[256];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }
};

}  // namespace

TEST_CASE("sd_notify: path socket, abstract socket, no socket, bad socket") {
    char dir[] = "/tmp/rp-notify-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const std::string path = std::string(dir) + "/notify";
    {
        Listener l(path);
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
        CHECK(rp::app::sd_notify("READY=1") == "");
        CHECK(l.receive() == "READY=1");
        CHECK(rp::app::sd_notify("STOPPING=1") == "");
        CHECK(l.receive() == "STOPPING=1");
    }
    ::unlink(path.c_str());
    const std::string abstract = "@rp-notify-test-" + std::to_string(::getpid());
    {
        Listener l(abstract);
        ::setenv("NOTIFY_SOCKET", abstract.c_str(), 1);
        CHECK(rp::app::sd_notify("RELOADING=1") == "");
        CHECK(l.receive() == "RELOADING=1");
    }
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // nobody listens any more
    CHECK(rp::app::sd_notify("READY=1").starts_with("cannot notify systemd: "));
    ::setenv("NOTIFY_SOCKET", "relative", 1);
    CHECK(rp::app::sd_notify("READY=1") ==
          "NOTIFY_SOCKET is neither an absolute path nor an abstract socket name");
    ::unsetenv("NOTIFY_SOCKET");
    CHECK(rp::app::sd_notify("READY=1") == "");
    ::rmdir(dir);
}
