// Service account key files (see service_account.hpp).
#include "oauth/service_account.hpp"

#include <boost/json.hpp>

#include <fstream>

#include "oauth/jwt.hpp"

namespace rp::oauth {
namespace {

constexpr std::size_t max_key_file = 1024 * 1024;

// The string member `name`, or "" when absent or not a string.
std::string string_field(const boost::json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

ServiceAccountResult fail(std::string error) {
    return ServiceAccountResult{std::nullopt, std::move(error)};
}

}  // namespace

std::optional<HttpsUrl> parse_https_url(std::string_view url) {
    constexpr std::string_view scheme = "https://";
    if (!url.starts_with(scheme)) return std::nullopt;
    url.remove_prefix(scheme.size());
    const std::size_t slash = url.find('/');
    std::string_view authority = url.substr(0, slash);
    HttpsUrl out;
    out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    // host, [v6 literal], either with an optional :port
    std::string_view host = authority, port;
    if (authority.starts_with('[')) {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        std::string_view rest = authority.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
        if (!rest.empty()) {
            port = rest.substr(1);
            out.port.clear();
        }
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        out.port.clear();
    }
    if (out.port.empty()) {
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        const int number = std::stoi(std::string(port));
        if (number < 1 || number > 65535) return std::nullopt;
        out.port = std::to_string(number);
    }
    // The target goes into the request line as it is: no spaces, controls
    // or fragment.
    for (char c : out.target)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '#') return std::nullopt;
    if (host.empty()) return std::nullopt;
    for (char c : host)
        if (static_cast<unsigned char>(c) <= ' ' || c == '#' || c == '?' || c == '@' || c == '[' || c == ']')
            return std::nullopt;
    out.host = std::string(host);
    return out;
}

std::string HttpsUrl::authority() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return port == "443" ? out : out + ":" + port;
}

ServiceAccountResult parse_service_account(std::string_view json_text) {
    boost::json::error_code ec;
    boost::json::value doc = boost::json::parse(json_text, ec);
    if (ec || !doc.is_object()) return fail("not a JSON object (a Google service account key file is)");
    const auto& o = doc.get_object();
    if (string_field(o, "type") != "service_account")
        return fail(
            "\"type\" is not \"service_account\" (download a service account key, not an OAuth client)");
    ServiceAccountKey key;
    key.client_email = string_field(o, "client_email");
    key.client_id = string_field(o, "client_id");
    key.private_key_id = string_field(o, "private_key_id");
    key.token_uri = string_field(o, "token_uri");
    if (key.client_email.empty() || key.client_email.find('@') == std::string::npos)
        return fail("\"client_email\" is missing or not an address");
    auto url = parse_https_url(key.token_uri);
    if (!url) return fail("\"token_uri\" is missing or not an https:// URL");
    key.token_url = std::move(*url);
    const std::string pem = string_field(o, "private_key");
    if (pem.empty()) return fail("\"private_key\" is missing");
    std::string error;
    key.signer = RsaSigner::from_pem(pem, error);
    if (!key.signer) return fail("\"private_key\": " + error);
    return ServiceAccountResult{std::move(key), ""};
}

ServiceAccountResult load_service_account_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(path + ": cannot read the service account key file");
    std::string text(max_key_file + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_key_file) return fail(path + ": larger than 1 MiB; not a service account key file");
    ServiceAccountResult r = parse_service_account(text);
    std::fill(text.begin(), text.end(), '\0');  // the private key: do not leave it in freed memory
    if (!r.key) r.error = path + ": " + r.error;
    return r;
}

}  // namespace rp::oauth
