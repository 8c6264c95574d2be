// Fuzzes what relaypool reads from outside for XOAUTH2: the token endpoint's
// answer (status + body: parse_token_reply, then explain) and a service
// account key file (parse_service_account). The first byte picks the HTTP
// status. Whatever arrives: no crash; a token only with a 200, never empty,
// printable and bounded; error texts without control characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oauth/service_account.hpp"
#include "oauth/token_reply.hpp"

using namespace rp::oauth;

static void require(bool ok) {
    if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr int statuses[] = {200, 400, 401, 403, 408, 429, 500, 503, 302};
    const int status = statuses[data[0] % (sizeof statuses / sizeof statuses[0])];
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    const TokenReply r = parse_token_reply(status, body);
    require((r.failure == TokenFailure::none) == !r.access_token.empty());
    require(r.failure != TokenFailure::none ||
            (status == 200 && r.lifetime.count() > 0 && r.access_token.size() <= 4096));
    for (char c : r.access_token)
        require(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
    for (char c : explain(r)) require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    const ServiceAccountResult key = parse_service_account(body);
    require(key.key.has_value() == key.error.empty());
    return 0;
}
