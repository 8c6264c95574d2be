// Client password hashes (users[].password_hash) via libcrypt.
// hash_password makes yescrypt ($y$); verify_password accepts $y$, $2b$ and
// $6$ hashes. Both are deliberately slow (tens of ms): the server calls
// verify_password on a worker thread, never on the event loop.
// Thread-safe (crypt_r with a per-call buffer).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rp::server {

// nullopt when libcrypt cannot make a salt or hash.
std::optional<std::string> hash_password(std::string_view password);

// Constant-time comparison of the recomputed hash; false for any hash of an
// unsupported scheme or a malformed hash.
bool verify_password(std::string_view password, std::string_view hash);

// True for the hash schemes verify_password accepts ($y$, $2b$, $6$).
bool is_supported_hash(std::string_view hash);

}  // namespace rp::server
