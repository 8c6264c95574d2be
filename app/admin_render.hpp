// Rendering of admin API answers for people: listings as aligned columns
// under a header line (id or account name first), `queue show` as labelled
// sections, and the error text of a refused request. Input is the server's
// JSON body (shapes in relay/relay.hpp); output is text ending in '\n'.
//
// Invariants: pure functions; every value printed is made one line with no
// control bytes (senders and upstream replies are untrusted text that must
// not drive the terminal); missing fields print as "-", a body that is not
// the documented shape yields nullopt. Used by app/admin_commands.cpp and
// tests/app.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rp::app::admin {

using Row = std::vector<std::string>;

// Columns separated by two spaces, each as wide as its widest cell (counted
// in UTF-8 characters); the last column is not padded; each line starts with
// `indent`.
std::string render_table(const Row& header, const std::vector<Row>& rows, std::string_view indent = "");

// 45s, 3m12s, 2h05m, 3d04h ("-" for a negative value).
std::string format_age(std::int64_t seconds);

// Control bytes (and DEL) become spaces, runs of whitespace one space,
// leading/trailing whitespace is trimmed; "" becomes `empty`.
std::string one_line(std::string_view text, std::string_view empty = "-");

std::optional<std::string> render_queue_list(std::string_view json);
// `queue list` pages (GET queue?after=...): the cursor of the next page
// ("" = this was the last page; nullopt = not a listing), and the pages
// joined into one listing body {"messages":[...],"total":N} (nullopt when
// one is not a listing).
std::optional<std::string> next_page_after(std::string_view json);
std::optional<std::string> join_queue_pages(const std::vector<std::string>& pages);
std::optional<std::string> render_queue_show(std::string_view json);
std::optional<std::string> render_pool_status(std::string_view json);
// One confirmation line for retry / delete / pause / resume answers.
std::optional<std::string> render_change(std::string_view json);

// What `queue show|retry|delete ID` prints when the server has no such
// message: delivered and bounced messages leave the queue, so say so and
// point at the log line that records what happened to it.
std::string not_in_queue_text(std::string_view id);

// The "error" member of an error body, made one line; nullopt when absent.
std::optional<std::string> error_text(std::string_view json);

}  // namespace rp::app::admin
