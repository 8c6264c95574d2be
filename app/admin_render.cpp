// Admin answer rendering (see admin_render.hpp). Boost.JSON parses the body;
// accessors tolerate missing or mistyped members (printed as "-") so that a
// newer server's answer still renders, but the top-level shape must match.
#include "app/admin_render.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>

namespace rp::app::admin {
namespace {

namespace json = boost::json;

std::optional<json::object> parse_object(std::string_view text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

// A member as raw text: strings as they are, numbers in decimal, else "".
std::string raw(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v) return "";
    if (v->is_string()) return std::string(v->as_string());
    if (v->is_int64()) return std::to_string(v->as_int64());
    if (v->is_uint64()) return std::to_string(v->as_uint64());
    if (v->is_double()) return std::to_string(static_cast<std::int64_t>(v->as_double()));
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    return "";
}

std::string field(const json::object& o, std::string_view key, std::string_view empty = "-") {
    return one_line(raw(o, key), empty);
}

// "<address>" as one line; the null sender prints as "<>".
std::string angled(std::string_view address) {
    return fmt::format("<{}>", one_line(address, ""));
}

std::optional<std::int64_t> number(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
}

std::string age(const json::object& o, std::string_view key) {
    auto n = number(o, key);
    return n ? format_age(*n) : "-";
}

// The objects of an array member; nullopt when the member is not an array.
std::optional<std::vector<const json::object*>> objects(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (!v || !v->is_array()) return std::nullopt;
    std::vector<const json::object*> out;
    for (const auto& item : v->as_array())
        if (item.is_object()) out.push_back(&item.as_object());
    return out;
}

// "a@x,b@y,c@z,+2 more": the full list is in `queue show` and --json.
std::string recipients(const json::object& m) {
    constexpr std::size_t kShown = 3;
    const json::value* v = m.if_contains("recipients");
    if (!v || !v->is_array() || v->as_array().empty()) return "-";
    const auto& list = v->as_array();
    std::string out;
    for (std::size_t i = 0; i < list.size() && i < kShown; ++i) {
        if (!out.empty()) out += ',';
        out += list[i].is_string() ? one_line(list[i].as_string(), "<>") : "?";
    }
    if (list.size() > kShown) out += fmt::format(",+{} more", list.size() - kShown);
    return out;
}

std::size_t display_width(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void append_line(std::string& out, const Row& row, const std::vector<std::size_t>& widths,
                 std::string_view indent) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(widths[i] - display_width(row[i]) + 2, ' ');
    }
    while (line.size() > indent.size() && line.back() == ' ') line.pop_back();
    out += line + '\n';
}

void label(std::string& out, std::string_view name, const std::string& value) {
    constexpr std::size_t kWidth = 14;
    std::string l = std::string(name) + ":";
    l.append(l.size() < kWidth ? kWidth - l.size() : 1, ' ');
    out += l + value + '\n';
}

std::string envelope_section(const json::object& m) {
    std::string out = "envelope:\n";
    const json::value* v = m.if_contains("envelope");
    if (!v || !v->is_object()) return out + "  -\n";
    const json::object& e = v->as_object();
    auto row = [&](std::string_view name, std::string value) { label(out, "  " + std::string(name), value); };
    row("mail from", angled(raw(e, "mail_from")));
    row("ret", field(e, "ret"));
    row("envid", field(e, "envid"));
    row("listener", field(e, "listener"));
    row("client", field(e, "client_addr"));
    row("auth user", field(e, "auth_user"));
    row("size", field(e, "size"));
    return out;
}

std::string recipients_section(const json::object& m) {
    auto items = objects(m, "recipients");
    if (!items || items->empty()) return "recipients: -\n";
    std::vector<Row> rows;
    for (const auto* r : *items)
        rows.push_back({field(*r, "address", "<>"), field(*r, "status"), field(*r, "attempts"),
                        field(*r, "account"), field(*r, "last_reply")});
    return "recipients:\n" +
           render_table({"ADDRESS", "STATUS", "ATTEMPTS", "ACCOUNT", "LAST-REPLY"}, rows, "  ");
}

std::string history_section(const json::object& m) {
    auto items = objects(m, "history");
    if (!items || items->empty()) return "history: none\n";
    std::vector<Row> rows;
    for (const auto* h : *items) rows.push_back({field(*h, "at"), field(*h, "account"), field(*h, "result")});
    return "history:\n" + render_table({"AT", "ACCOUNT", "RESULT"}, rows, "  ");
}

}  // namespace

std::string render_table(const Row& header, const std::vector<Row>& rows, std::string_view indent) {
    std::vector<std::size_t> widths(header.size(), 0);
    auto widen = [&](const Row& row) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    };
    widen(header);
    for (const auto& r : rows) widen(r);
    std::string out;
    append_line(out, header, widths, indent);
    for (const auto& r : rows) {
        Row fitted = r;
        fitted.resize(header.size(), "-");
        append_line(out, fitted, widths, indent);
    }
    return out;
}

std::string format_age(std::int64_t s) {
    if (s < 0) return "-";
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
    return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::string one_line(std::string_view text, std::string_view empty) {
    std::string out;
    bool space = false;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out.empty() ? std::string(empty) : out;
}

std::optional<std::string> render_queue_list(std::string_view text) {
    auto body = parse_object(text);
    if (!body) return std::nullopt;
    auto items = objects(*body, "messages");
    if (!items) return std::nullopt;
    std::vector<Row> rows;
    for (const auto* m : *items)
        rows.push_back({field(*m, "id"), age(*m, "age_seconds"), field(*m, "state"), field(*m, "attempts"),
                        angled(raw(*m, "sender")), recipients(*m), field(*m, "last_error")});
    return render_table({"ID", "AGE", "STATE", "ATTEMPTS", "SENDER", "RECIPIENTS", "LAST-ERROR"}, rows);
}

std::optional<std::string> next_page_after(std::string_view text) {
    auto body = parse_object(text);
    if (!body || !objects(*body, "messages")) return std::nullopt;
    return raw(*body, "next_after");
}

std::optional<std::string> join_queue_pages(const std::vector<std::string>& pages) {
    json::array all;
    json::value total = 0;
    for (const auto& text : pages) {
        auto body = parse_object(text);
        if (!body) return std::nullopt;
        json::value* messages = body->if_contains("messages");
        if (!messages || !messages->is_array()) return std::nullopt;
        for (auto& m : messages->as_array()) all.push_back(std::move(m));
        if (const json::value* t = body->if_contains("total")) total = *t;
    }
    return json::serialize(json::object{{"messages", std::move(all)}, {"total", total}});
}

std::optional<std::string> render_queue_show(std::string_view text) {
    auto body = parse_object(text);
    if (!body || !body->contains("id")) return std::nullopt;
    const json::object& m = *body;
    std::string out;
    label(out, "id", field(m, "id"));
    label(out, "state", field(m, "state"));
    label(out, "arrival", fmt::format("{} (age {})", field(m, "arrival"), age(m, "age_seconds")));
    label(out, "attempts", field(m, "attempts"));
    label(out, "next attempt", field(m, "next_attempt"));
    label(out, "last error", field(m, "last_error"));
    return out + envelope_section(m) + recipients_section(m) + history_section(m);
}

std::optional<std::string> render_pool_status(std::string_view text) {
    auto body = parse_object(text);
    if (!body) return std::nullopt;
    auto items = objects(*body, "accounts");
    if (!items) return std::nullopt;
    std::vector<Row> rows;
    for (const auto* a : *items) {
        // A held-back account shows why (its state's reason) when no reply
        // explains it (paused, assumed full, a token refused).
        const bool held_back = raw(*a, "state") != "active" && raw(*a, "state") != "";
        const std::string why =
            raw(*a, "last_error").empty() && held_back ? field(*a, "reason") : field(*a, "last_error");
        const auto day = number(*a, "warmup_day");
        rows.push_back({field(*a, "name"), field(*a, "state"),
                        fmt::format("{}/{}", field(*a, "sent_24h", "0"), field(*a, "limit")),
                        field(*a, "cooldown_until"), day ? fmt::format("day {}", *day) : "-", why});
    }
    return render_table({"NAME", "STATE", "SENT/LIMIT", "COOLDOWN-UNTIL", "WARMUP", "LAST-ERROR"}, rows);
}

std::optional<std::string> render_change(std::string_view text) {
    auto body = parse_object(text);
    if (!body) return std::nullopt;
    if (auto n = number(*body, "retried"))
        return fmt::format("retried {} {}\n", *n, *n == 1 ? "message" : "messages");
    if (body->contains("deleted")) return fmt::format("deleted {}\n", field(*body, "deleted"));
    if (body->contains("account"))
        return fmt::format("{}: {}\n", field(*body, "account"), field(*body, "state"));
    return std::nullopt;
}

std::string not_in_queue_text(std::string_view id) {
    const std::string shown = one_line(id);
    return fmt::format(
        "no such message in the queue: delivered and bounced messages leave the queue; "
        "look for id={} in the relay's log (e.g. journalctl -u relaypool | grep id={})",
        shown, shown);
}

std::optional<std::string> error_text(std::string_view text) {
    auto body = parse_object(text);
    if (!body || !body->contains("error")) return std::nullopt;
    return field(*body, "error");
}

}  // namespace rp::app::admin
