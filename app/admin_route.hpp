// Routing of the admin API (/api/v1/...): a pure function from (method, path)
// to one admin action and its decoded argument, or to the HTTP error to send
// (404 unknown route, 405 wrong method, 400 malformed id or name).
//
// Invariants: path segments are split first, then url-decoded one by one (an
// encoded '/' stays inside its segment); an argument that reaches the relay is
// a well-formed message id or account name (no control bytes, bounded size).
// No I/O. Used by app/admin_api.cpp and tests/app.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rp::app::admin {

enum class Action {
    queue_list,
    queue_show,
    queue_retry,
    queue_retry_all,
    queue_delete,
    pool_status,
    pool_pause,
    pool_resume,
};

struct Route {
    std::optional<Action> action;  // empty: answer with status/error
    std::string argument;          // decoded message id or account name ("" when none)
    int status = 200;              // 400, 404 or 405 when action is empty
    std::string error;             // one line for {"error": ...}
    std::string allow;             // for 405: the methods the path accepts ("GET, DELETE")
};

// `path` is without the query string, as the HTTP server hands it over.
Route route(std::string_view method, std::string_view path);

// RFC 3986 percent-decoding; nullopt on a malformed escape or a decoded NUL.
std::optional<std::string> url_decode(std::string_view text);

// The reverse, for building paths in the client: everything but unreserved
// characters ('A-Z a-z 0-9 - . _ ~') and '@' is escaped.
std::string url_encode(std::string_view text);

// Message ids are 1..64 letters and digits (the spool's are 16 hex digits;
// anything else is simply not found). Account names are 1..320 bytes with no
// control characters, spaces or DEL.
bool valid_message_id(std::string_view id);
bool valid_account_name(std::string_view name);

// The query of GET queue: `limit=N` (1..max_limit, default `default_limit`)
// and `after=ID` (the cursor: the last id of the previous page). Unknown
// keys are ignored; a malformed value sets `error` (a 400).
struct PageQuery {
    std::size_t limit = 0;
    std::string after;
    std::string error;
};
PageQuery parse_page_query(std::string_view query, std::size_t default_limit, std::size_t max_limit);

}  // namespace rp::app::admin
