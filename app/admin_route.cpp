// Admin API routing (see admin_route.hpp): one table row per route; a path
// that matches some row but not its method is a 405, a path that matches no
// row a 404.
#include "app/admin_route.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace rp::app::admin {
namespace {

constexpr std::string_view kPrefix = "/api/v1/";
constexpr std::string_view kId = ":id";
constexpr std::string_view kName = ":name";

struct Row {
    std::string_view method;
    std::vector<std::string_view> pattern;  // literals, or kId / kName for the argument
    Action action;
};

// Literal rows come before rows with an argument at the same position, so
// "queue/retry" is the retry-all route, not a message called "retry".
const std::array<Row, 8>& rows() {
    static const std::array<Row, 8> table{{
        {"GET", {"queue"}, Action::queue_list},
        {"POST", {"queue", "retry"}, Action::queue_retry_all},
        {"GET", {"queue", kId}, Action::queue_show},
        {"DELETE", {"queue", kId}, Action::queue_delete},
        {"POST", {"queue", kId, "retry"}, Action::queue_retry},
        {"GET", {"pool"}, Action::pool_status},
        {"POST", {"pool", kName, "pause"}, Action::pool_pause},
        {"POST", {"pool", kName, "resume"}, Action::pool_resume},
    }};
    return table;
}

std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    while (true) {
        auto slash = path.find('/');
        out.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) return out;
        path.remove_prefix(slash + 1);
    }
}

bool is_argument(std::string_view p) {
    return p == kId || p == kName;
}

bool path_matches(const Row& row, const std::vector<std::string_view>& segments) {
    if (row.pattern.size() != segments.size()) return false;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (segments[i].empty()) return false;
        if (!is_argument(row.pattern[i]) && row.pattern[i] != segments[i]) return false;
    }
    return true;
}

Route failure(int status, std::string error) {
    Route r;
    r.status = status;
    r.error = std::move(error);
    return r;
}

// The row matched: decode and check its argument, if it has one.
Route accept(const Row& row, const std::vector<std::string_view>& segments) {
    Route r;
    r.action = row.action;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        if (!is_argument(row.pattern[i])) continue;
        auto decoded = url_decode(segments[i]);
        if (!decoded) return failure(400, "malformed percent-escape in the path");
        bool id = row.pattern[i] == kId;
        if (id ? !valid_message_id(*decoded) : !valid_account_name(*decoded))
            return failure(400, id ? "malformed message id" : "malformed account name");
        r.argument = std::move(*decoded);
    }
    return r;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::vector<std::string_view> split_on(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        auto at = text.find(sep);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) break;
        text.remove_prefix(at + 1);
    }
    return out;
}

bool parse_limit(std::string_view text, std::size_t max, std::size_t& out) {
    if (text.empty() || text.size() > 9) return false;
    std::size_t n = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n < 1 || n > max) return false;
    out = n;
    return true;
}

}  // namespace

Route route(std::string_view method, std::string_view path) {
    if (!path.starts_with(kPrefix)) return failure(404, "unknown route");
    path.remove_prefix(kPrefix.size());
    if (path.ends_with('/')) path.remove_suffix(1);
    const auto segments = split(path);
    std::string allow;
    for (const Row& row : rows()) {
        if (!path_matches(row, segments)) continue;
        if (row.method == method) return accept(row, segments);
        if (allow.find(row.method) == std::string::npos)
            allow += (allow.empty() ? "" : ", ") + std::string(row.method);
    }
    if (allow.empty()) return failure(404, "unknown route");
    Route r = failure(405, "method not allowed; use " + allow);
    r.allow = allow;
    return r;
}

std::optional<std::string> url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::string url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                     c == '.' || c == '_' || c == '~' || c == '@';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

bool valid_message_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    });
}

bool valid_account_name(std::string_view name) {
    return !name.empty() && name.size() <= 320 && std::all_of(name.begin(), name.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u != 0x7f;
    });
}

PageQuery parse_page_query(std::string_view query, std::size_t default_limit, std::size_t max_limit) {
    PageQuery q;
    q.limit = default_limit;
    for (std::string_view pair : split_on(query, '&')) {
        const auto eq = pair.find('=');
        const std::string_view key = pair.substr(0, eq);
        auto value = url_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
        if (key != "limit" && key != "after") continue;
        if (!value) {
            q.error = "malformed percent-escape in the query";
            return q;
        }
        if (key == "after") {
            if (!valid_message_id(*value)) q.error = "after: a message id";
            q.after = std::move(*value);
        } else if (!parse_limit(*value, max_limit, q.limit)) {
            q.error = "limit: a number from 1 to " + std::to_string(max_limit);
        }
        if (!q.error.empty()) return q;
    }
    return q;
}

}  // namespace rp::app::admin
