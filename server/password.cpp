// Client password hashes via libcrypt (see password.hpp). yescrypt for new
// hashes; verification recomputes with crypt_r and compares in constant
// time. Each call owns its crypt_data (about 32 KiB, on the heap), so any
// thread may call these concurrently.
#include "server/password.hpp"

#include <crypt.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace rp::server {
namespace {

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

// crypt_r of `password` with `setting`; nullopt on any failure, including
// libcrypt's "*0"/"*1" failure tokens and passwords with a NUL byte.
std::optional<std::string> crypt_with(std::string_view password, const std::string& setting) {
    if (password.find('\0') != std::string_view::npos) return std::nullopt;
    std::string pw(password);
    auto data = std::make_unique<crypt_data>();
    const char* out = crypt_r(pw.c_str(), setting.c_str(), data.get());
    std::fill(pw.begin(), pw.end(), '\0');
    std::optional<std::string> result;
    if (out != nullptr && out[0] != '*') result = out;
    explicit_bzero(data.get(), sizeof(crypt_data));
    return result;
}

}  // namespace

std::optional<std::string> hash_password(std::string_view password) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // count 0 = libcrypt's default cost; nullptr = its own random bytes.
    if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) == nullptr) return std::nullopt;
    return crypt_with(password, setting);
}

bool verify_password(std::string_view password, std::string_view hash) {
    if (!is_supported_hash(hash)) return false;
    auto computed = crypt_with(password, std::string(hash));
    return computed && constant_time_equal(*computed, hash);
}

bool is_supported_hash(std::string_view hash) {
    return config::is_supported_password_hash(hash);
}

}  // namespace rp::server
