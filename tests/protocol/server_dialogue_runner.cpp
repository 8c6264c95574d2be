// Dialogue script interpreter (see server_dialogue_runner.hpp).
#include "server_dialogue_runner.hpp"

#include <deque>
#include <optional>
#include <sstream>

#include "protocol/server_session.hpp"

namespace rp::test {

using namespace rp::protocol;

std::string unescape(std::string_view t) {
    std::string out;
    for (std::size_t i = 0; i < t.size(); ++i) {
        if (t.substr(i, 2) == "{{") {
            const std::size_t end = t.find("}}", i);
            const std::size_t star = t.find('*', i);
            if (end != std::string_view::npos && star < end) {
                const std::size_t n = std::stoul(std::string(t.substr(i + 2, star - i - 2)));
                out.append(n, t[star + 1]);
                i = end + 1;
                continue;
            }
        }
        if (t[i] != '\\' || i + 1 >= t.size()) {
            out += t[i];
            continue;
        }
        const char e = t[++i];
        if (e == 'r')
            out += '\r';
        else if (e == 'n')
            out += '\n';
        else if (e == 't')
            out += '\t';
        else if (e == 'x' && i + 2 < t.size()) {
            out += static_cast<char>(std::stoi(std::string(t.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else
            out += e;
    }
    return out;
}

namespace {

std::vector<std::string> words_of(std::string_view s) {
    std::vector<std::string> w;
    std::istringstream in{std::string(s)};
    for (std::string x; in >> x;) w.push_back(x);
    return w;
}

std::string describe(const Action& a) {
    static const char* names[] = {"Write",         "NeedMore",     "StartTls",
                                  "VerifyAuth",    "BeginMessage", "MessageData",
                                  "CommitMessage", "AbortMessage", "Close"};
    std::string n = names[a.index()];
    if (auto* w = std::get_if<action::Write>(&a)) n += " \"" + w->bytes + "\"";
    return n;
}

std::string reason_name(action::AbortReason r) {
    switch (r) {
        case action::AbortReason::too_big:
            return "too_big";
        case action::AbortReason::write_failed:
            return "write_failed";
        case action::AbortReason::begin_failed:
            return "begin_failed";
        case action::AbortReason::cancelled:
            return "cancelled";
    }
    return "?";
}

class Runner {
  public:
    std::vector<DialogueFailure> failures;

    void run(std::string_view script) {
        std::size_t pos = 0;
        while (pos <= script.size() && failures.empty()) {
            std::size_t end = script.find('\n', pos);
            if (end == std::string_view::npos) end = script.size();
            std::string_view line = script.substr(pos, end - pos);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            ++lineno_;
            pos = end + 1;
            if (line.empty() || line[0] == '#') continue;
            if (line.size() < 2 || line[1] != ':' || (line.size() > 2 && line[2] != ' ')) {
                fail("bad directive");
                continue;
            }
            directive(line[0], line.size() > 3 ? line.substr(3) : std::string_view{});
        }
        if (!failures.empty()) return;
        ++lineno_;
        if (!replies_.empty()) return fail("unmatched reply: " + replies_.front());
        ensure_session();
        if (held_) return fail("unconsumed action " + describe(*held_));
        Action a = session_->next();
        if (!std::holds_alternative<action::NeedMore>(a) && !std::holds_alternative<action::Close>(a))
            fail("dialogue ended with pending " + describe(a));
    }

  private:
    SessionOptions options_{};
    std::optional<ServerSession> session_;
    std::deque<std::string> replies_;
    std::optional<Action> held_;
    int lineno_ = 0;

    void fail(std::string msg) { failures.push_back({lineno_, std::move(msg)}); }

    void ensure_session() {
        if (session_) return;
        options_.hostname = "relay.test";
        options_.client_addr = "192.0.2.9";
        options_.listener = "test";
        session_.emplace(options_);
        push_write(session_->greeting().format());
    }

    void push_write(std::string_view bytes) {
        while (!bytes.empty()) {
            std::size_t e = bytes.find("\r\n");
            if (e == std::string_view::npos) {
                fail("reply without CRLF");
                return;
            }
            replies_.emplace_back(bytes.substr(0, e));
            bytes.remove_prefix(e + 2);
        }
    }

    // The next action that is not a Write; replies must all be checked first.
    std::optional<Action> take_action() {
        ensure_session();
        if (!replies_.empty()) {
            fail("unchecked reply before action: " + replies_.front());
            return std::nullopt;
        }
        if (held_) {
            Action a = std::move(*held_);
            held_.reset();
            return a;
        }
        Action a = session_->next();
        if (auto* w = std::get_if<action::Write>(&a)) {
            push_write(w->bytes);
            fail("unchecked reply before action: " + replies_.front());
            return std::nullopt;
        }
        return a;
    }

    void expect_reply(std::string_view pattern) {
        ensure_session();
        if (replies_.empty()) {
            if (held_) return fail("expected a reply, session wants " + describe(*held_));
            Action a = session_->next();
            if (auto* w = std::get_if<action::Write>(&a)) {
                push_write(w->bytes);
            } else {
                std::string d = describe(a);
                held_ = std::move(a);
                return fail("expected a reply, session wants " + d);
            }
        }
        std::string got = replies_.front();
        replies_.pop_front();
        const bool prefix = !pattern.empty() && pattern.back() == '*';
        const std::string want = unescape(prefix ? pattern.substr(0, pattern.size() - 1) : pattern);
        if (prefix ? got.compare(0, want.size(), want) != 0 : got != want)
            fail("reply \"" + got + "\" does not match \"" + std::string(pattern) + "\"");
    }

    template <class T>
    T* expect_action(std::optional<Action>& a, const char* name) {
        if (!a) return nullptr;
        if (auto* t = std::get_if<T>(&*a)) return t;
        fail(std::string("expected ") + name + ", got " + describe(*a));
        return nullptr;
    }

    void options(std::string_view text) {
        for (const auto& w : words_of(text)) {
            const auto eq = w.find('=');
            const std::string k = w.substr(0, eq), v = eq == std::string::npos ? "" : w.substr(eq + 1);
            if (k == "tls")
                options_.tls = v == "implicit" ? TlsMode::implicit
                               : v == "none"   ? TlsMode::none
                                               : TlsMode::starttls;
            else if (k == "require_auth")
                options_.require_auth = v == "1";
            else if (k == "trusted")
                options_.client_trusted = v == "1";
            else if (k == "max_size")
                options_.max_message_size = std::stoull(v);
            else if (k == "max_rcpt")
                options_.max_recipients = std::stoul(v);
            else if (k == "max_errors")
                options_.max_bad_commands = std::stoi(v);
            else if (k == "max_auth_failures")
                options_.max_auth_failures = std::stoi(v);
            else
                fail("unknown option " + k);
        }
    }

    void directive(char kind, std::string_view text) {
        switch (kind) {
            case 'O':
                if (session_) return fail("O: after the session started");
                return options(text);
            case 'C':
                ensure_session();
                session_->feed(unescape(text) + "\r\n");
                return;
            case 'R':
                ensure_session();
                session_->feed(unescape(text));
                return;
            case 'S':
                return expect_reply(text);
            case 'A':
                return act(text);
            default:
                return fail("unknown directive");
        }
    }

    void act(std::string_view text) {
        auto w = words_of(text);
        if (w.empty()) return fail("empty action");
        const std::string& verb = w[0];
        if (verb == "message") return message(text.size() > 8 ? unescape(text.substr(8)) : "");
        auto a = take_action();
        if (!a) return;
        if (verb == "starttls") {
            if (expect_action<action::StartTls>(a, "StartTls")) session_->tls_started();
        } else if (verb == "auth") {
            auto* v = expect_action<action::VerifyAuth>(a, "VerifyAuth");
            if (!v) return;
            if (w.size() != 5) return fail("auth needs MECH USER PASS ok|fail");
            if (v->mechanism != w[1] || v->username != w[2] || v->password != w[3])
                return fail("VerifyAuth got " + v->mechanism + " " + v->username + " " + v->password);
            session_->auth_result(w[4] == "ok");
        } else if (verb == "begin") {
            auto* b = expect_action<action::BeginMessage>(a, "BeginMessage");
            if (!b) return;
            bool ok = true;
            for (std::size_t i = 1; i < w.size(); ++i) {
                if (w[i] == "fail")
                    ok = false;
                else
                    check_envelope(b->envelope, w[i]);
            }
            session_->message_begun(ok);
        } else if (verb == "write-fail") {
            if (expect_action<action::MessageData>(a, "MessageData")) session_->message_write_failed();
        } else if (verb == "commit") {
            if (!expect_action<action::CommitMessage>(a, "CommitMessage")) return;
            if (w.size() != 2) return fail("commit needs an id");
            session_->message_committed(w[1]);
        } else if (verb == "commit-fail") {
            if (expect_action<action::CommitMessage>(a, "CommitMessage")) session_->message_failed();
        } else if (verb == "abort") {
            auto* ab = expect_action<action::AbortMessage>(a, "AbortMessage");
            if (ab && (w.size() != 2 || reason_name(ab->reason) != w[1]))
                fail("abort reason " + reason_name(ab->reason));
        } else if (verb == "close") {
            expect_action<action::Close>(a, "Close");
        } else if (verb == "idle") {
            expect_action<action::NeedMore>(a, "NeedMore");
        } else {
            fail("unknown action " + verb);
        }
    }

    // MessageData up to the next reply or other action (kept for the next
    // directive).
    void message(const std::string& want) {
        std::string got;
        auto first = take_action();
        if (!first) return;
        held_ = std::move(*first);
        for (;;) {
            Action a = held_ ? std::move(*held_) : session_->next();
            held_.reset();
            if (auto* d = std::get_if<action::MessageData>(&a)) {
                got.append(d->bytes);
            } else if (auto* w = std::get_if<action::Write>(&a)) {
                push_write(w->bytes);
                break;
            } else {
                held_ = std::move(a);
                break;
            }
        }
        if (got != want) fail("message content \"" + got + "\" != \"" + want + "\"");
    }

    void check_envelope(const Envelope& e, const std::string& kv) {
        const auto eq = kv.find('=');
        const std::string k = kv.substr(0, eq),
                          v = eq == std::string::npos ? "" : unescape(kv.substr(eq + 1));
        std::string got;
        auto join = [](const auto& rcpts, auto field) {
            std::string s;
            for (const auto& r : rcpts) s += (s.empty() ? "" : ";") + field(r);
            return s;
        };
        if (k == "from")
            got = e.mail_from;
        else if (k == "rcpt")
            got = join(e.recipients, [](const auto& r) { return r.address; });
        else if (k == "notify")
            got = join(e.recipients, [](const auto& r) { return r.notify; });
        else if (k == "orcpt")
            got = join(e.recipients, [](const auto& r) { return r.orcpt; });
        else if (k == "proto")
            got = e.protocol;
        else if (k == "auth")
            got = e.auth_user;
        else if (k == "helo")
            got = e.helo;
        else if (k == "utf8")
            got = e.smtputf8 ? "1" : "0";
        else if (k == "body")
            got = std::string(to_string(e.body));
        else if (k == "ret")
            got = e.ret;
        else if (k == "envid")
            got = e.envid;
        else if (k == "size")
            got = std::to_string(e.declared_size);
        else if (k == "tls")
            got = e.tls ? "1" : "0";
        else if (k == "client")
            got = e.client_addr;
        else
            return fail("unknown envelope key " + k);
        if (got != v) fail("envelope " + k + " is \"" + got + "\", want \"" + v + "\"");
    }
};

}  // namespace

std::vector<DialogueFailure> run_dialogue(std::string_view script) {
    Runner r;
    r.run(script);
    return r.failures;
}

}  // namespace rp::test
