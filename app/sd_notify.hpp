// systemd readiness notification (sd_notify(3) protocol), without libsystemd:
// one datagram such as "READY=1" to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Does
// nothing when the variable is unset (not started by systemd Type=notify).
//
// Used by app/serve.cpp: READY=1 once listeners are up and the spool has
// been recovered, RELOADING=1 / READY=1 around SIGHUP, STOPPING=1 on SIGTERM.
// The protocol is stable and documented by systemd ("sd_notify" and "The
// sd_notify protocol"); implementing it here keeps libsystemd out of the
// package's dependencies.
#pragma once

#include <string>
#include <string_view>

namespace rp::app {

// Sends `state` (e.g. "READY=1\nSTATUS=serving"); returns "" on success or
// when there is no $NOTIFY_SOCKET, else the reason (the caller logs it).
std::string sd_notify(std::string_view state);

}  // namespace rp::app
