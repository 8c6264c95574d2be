// sd_notify without libsystemd (see sd_notify.hpp).
#include "app/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace rp::app {

std::string sd_notify(std::string_view state) {
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (!env || !*env) return {};
    std::string_view path = env;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path)
        return "NOTIFY_SOCKET is neither an absolute path nor an abstract socket name";
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::string("cannot create the notify socket: ") + std::strerror(errno);
    ssize_t sent =
        ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    int saved = errno;
    ::close(fd);
    if (sent != static_cast<ssize_t>(state.size()))
        return std::string("cannot notify systemd: ") + std::strerror(saved);
    return {};
}

}  // namespace rp::app
