// Keyed username tags for logs (see username_tag.hpp).
#include "server/username_tag.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace rp::server {
namespace {

const std::array<unsigned char, 32>& process_key() {
    static const std::array<unsigned char, 32> key = [] {
        std::array<unsigned char, 32> k{};
        if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1)
            throw std::runtime_error("RAND_bytes failed");
        return k;
    }();
    return key;
}

}  // namespace

std::string username_tag(std::string_view username) {
    const auto& key = process_key();
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < 6 && i < len; ++i) {
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 15];
    }
    return out;
}

}  // namespace rp::server
