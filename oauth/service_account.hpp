// A Google service account key (the JSON file the Cloud console downloads)
// and the checks `relaypool check-config` and the token source run on it:
// type "service_account", client_email, a private key that parses as RSA,
// and an https token_uri. The key itself is a secret: it is never logged
// and never part of an error text.
// Pure: reads no file (load_service_account_file does, for its callers).
// Used by oauth/jwt.*, relay/oauth_tokens.* and app/ (check-config).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace rp::oauth {

class RsaSigner;

// "https://oauth2.googleapis.com/token" split for the HTTP client.
struct HttpsUrl {
    std::string host;  // a name or an IP literal (IPv6 without brackets)
    std::string port = "443";
    std::string target = "/";  // path and query
    // The Host header (RFC 9110 7.2): host[:port], IPv6 in brackets.
    std::string authority() const;
};
// nullopt unless the URL is https://host[:port][/path] (no user info).
std::optional<HttpsUrl> parse_https_url(std::string_view url);

struct ServiceAccountKey {
    std::string client_email;    // the JWT's iss
    std::string client_id;       // what the Workspace admin grants delegation to
    std::string private_key_id;  // the JWT header's kid
    std::string token_uri;       // the JWT's aud and where it is exchanged
    HttpsUrl token_url;
    std::shared_ptr<const RsaSigner> signer;
};

struct ServiceAccountResult {
    std::optional<ServiceAccountKey> key;
    std::string error;  // says which field is wrong; never contains the key
};

// Parses and checks the file's text.
ServiceAccountResult parse_service_account(std::string_view json_text);
// Reads `path` (at most 1 MiB) then parse_service_account; errors name the path.
ServiceAccountResult load_service_account_file(const std::string& path);

}  // namespace rp::oauth
