// How a failed AUTH's username appears in logs: people type passwords into
// the user field, so a name that is not a configured user is logged only as
// a tag: 12 hex digits of HMAC-SHA256 under a key made at process start.
// Equal names give equal tags within one run (an operator can see one name
// being guessed at from many addresses); across runs, and without the key,
// a tag cannot be checked against a guessed password.
// Thread-safe; used by server/connection_actions.cpp and tests/server.
#pragma once

#include <string>
#include <string_view>

namespace rp::server {

std::string username_tag(std::string_view username);

}  // namespace rp::server
