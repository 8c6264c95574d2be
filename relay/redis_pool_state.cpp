// RedisPoolState: scripts, keys and polling of the shared pool state (see
// redis_pool_state.hpp).
#include "relay/redis_pool_state.hpp"

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>

#include "common/log.hpp"
#include "relay/redis_connection.hpp"
#include "relay/redis_scripts.hpp"

namespace rp::relay {

namespace {

const char* const kSources[] = {scripts::kReserve, scripts::kSettle, scripts::kState};
constexpr std::chrono::milliseconds kRefusalBackoffMin{1000}, kRefusalBackoffMax{30000};

std::optional<std::int64_t> number(std::string_view s) {
    std::int64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
}

std::string arg(std::optional<std::int64_t> v) {
    return v ? std::to_string(*v) : std::string();
}

// "<seq> <state> <since_ms> <until_ms> <reason...>"
std::optional<SharedAccountState> parse_state(const std::string& account, const std::string& value) {
    SharedAccountState s;
    s.account = account;
    std::string_view rest = value;
    std::string_view fields[4];
    for (auto& f : fields) {
        const auto sp = rest.find(' ');
        f = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
    auto seq = number(fields[0]);
    auto since = number(fields[2]);
    auto until = number(fields[3]);
    if (!seq || !since || !until || *seq < 0) return std::nullopt;
    s.seq = static_cast<std::uint64_t>(*seq);
    s.state = std::string(fields[1]);
    s.since_ms = *since;
    s.until_ms = *until;
    s.reason = std::string(rest);
    return s;
}

// Errors a Redis server gives for its own state, which end by themselves
// (or by a failover); any other error (WRONGTYPE on a reused prefix, an ACL
// NOPERM on a key) would come back every time.
bool passing_refusal(std::string_view error) {
    for (std::string_view code : {"MISCONF", "OOM", "READONLY", "NOREPLICAS", "LOADING", "BUSY", "MASTERDOWN",
                                  "TRYAGAIN", "CLUSTERDOWN"})
        if (error.starts_with(code)) return true;
    return false;
}

}  // namespace

struct RedisPoolState::Timer {
    explicit Timer(const boost::asio::any_io_executor& ex) : t(ex) {}
    boost::asio::steady_timer t;
};

RedisPoolState::RedisPoolState(boost::asio::any_io_executor executor, const config::RedisUrl& url,
                               std::string password)
    : url_(url), executor_(executor), timer_(std::make_unique<Timer>(executor)) {
    RedisOptions o;
    o.host = url.host;
    o.port = url.port;
    o.db = url.db;
    o.password = std::move(password);
    o.tls = url.tls;
    o.tls_verify = url.tls_verify;
    o.ca_file = url.ca_file;
    conn_ = std::make_unique<RedisConnection>(executor, std::move(o));
    std::weak_ptr<int> alive = alive_;
    conn_->on_up([this, alive] {
        if (alive.expired()) return;
        ++generation_;
        load_scripts();
    });
    conn_->on_down([this, alive] {
        if (alive.expired()) return;
        ++generation_;
        scripts_loaded_ = false;
        scripts_loading_ = false;
        polled_ = false;
        poll_in_flight_ = false;
        set_ready(false);
    });
}

RedisPoolState::~RedisPoolState() {
    stop();
}

void RedisPoolState::start() {
    conn_->start();
    schedule_poll();
}

void RedisPoolState::stop() {
    alive_.reset();
    timer_->t.cancel();
    conn_->stop();
}

void RedisPoolState::shutdown(std::function<void()> done) {
    if (!conn_->up()) {
        stop();
        return done();
    }
    // Replies come in order: when PING is answered, so is everything before.
    conn_->command({"PING"}, [this, alive = std::weak_ptr<int>(alive_), done = std::move(done)](RedisReply) {
        if (!alive.expired()) stop();
        done();
    });
}

bool RedisPoolState::ready() const {
    return ready_ && conn_->up();
}

std::string RedisPoolState::problem() const {
    if (ready()) return "";
    if (!conn_->up()) return conn_->problem();
    if (!refusal_.empty() && std::chrono::steady_clock::now() < refused_until_)
        return "Redis refused a write (" + refusal_ + "); sends wait and retry";
    if (!scripts_error_.empty()) return "Redis refused SCRIPT LOAD (" + scripts_error_ + "); retrying";
    return "Redis pool state: loading scripts and account states";
}

std::string RedisPoolState::describe() const {
    return conn_->describe() + " prefix " + url_.prefix;
}

std::string RedisPoolState::key(char kind, const std::string& account) const {
    return url_.prefix + ":" + kind + ":" + account;
}

void RedisPoolState::set_ready(bool ready) {
    if (ready == ready_) return;
    ready_ = ready;
    if (ready_hook_) ready_hook_(ready);
}

// A refusal (LOADING while Redis reads its AOF, NOPERM, BUSY) leaves the
// state not ready; poll() loads again every poll_ms, on the same connection
// (nothing else would make it reconnect).
void RedisPoolState::load_scripts() {
    struct Progress {
        int left = kScripts;
        std::string error;
    };
    auto progress = std::make_shared<Progress>();
    const std::uint64_t gen = generation_;
    std::weak_ptr<int> alive = alive_;
    scripts_loading_ = true;
    for (int i = 0; i < kScripts; ++i) {
        conn_->command({"SCRIPT", "LOAD", kSources[i]}, [this, alive, gen, i, progress](RedisReply r) {
            if (alive.expired() || gen != generation_) return;
            if (r.type == RedisReply::Type::string)
                sha_[i] = r.str;
            else if (progress->error.empty())
                progress->error = r.str.empty() ? "unexpected reply" : r.str;
            if (--progress->left > 0) return;
            scripts_loading_ = false;
            if (!progress->error.empty()) {
                if (progress->error != scripts_error_)
                    log::error("redis", "SCRIPT LOAD refused; retrying every poll_ms",
                               {{"redis", describe()}, {"error", progress->error}});
                scripts_error_ = progress->error;
                return;
            }
            scripts_error_.clear();
            scripts_loaded_ = true;
            poll();
        });
    }
}

void RedisPoolState::refused(const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= refused_until_) {  // one step per episode: concurrent refusals do not multiply it
        refusal_backoff_ = std::clamp(refusal_backoff_ * 2, kRefusalBackoffMin, kRefusalBackoffMax);
        refused_until_ = now + refusal_backoff_;
    }
    if (why != refusal_)
        log::error("redis", "Redis refused a write; sends wait",
                   {{"redis", describe()},
                    {"error", why},
                    {"retry_in_ms", std::to_string(refusal_backoff_.count())}});
    refusal_ = why;
    set_ready(false);
    // A demoted primary stays one; a name may point at the new one by now.
    if (why.starts_with("READONLY") || why.starts_with("LOADING")) conn_->reconnect("Redis answered " + why);
}

bool RedisPoolState::finished(const RedisReply& r, std::string_view what) {
    if (r.io_failed()) return false;
    if (!r.is_error()) return true;
    if (passing_refusal(r.str)) {
        refused(r.str);
        return false;
    }
    log::error("redis", "Redis rejected a command for good; not given again",
               {{"redis", describe()}, {"command", std::string(what)}, {"error", r.str}});
    return true;
}

void RedisPoolState::eval(Script s, std::vector<std::string> args, std::function<void(RedisReply)> done,
                          bool retry) {
    std::vector<std::string> cmd{"EVALSHA", sha_[s]};
    cmd.insert(cmd.end(), args.begin(), args.end());
    std::weak_ptr<int> alive = alive_;
    conn_->command(std::move(cmd), [this, alive, s, args = std::move(args), done = std::move(done),
                                    retry](RedisReply r) mutable {
        if (!alive.expired() && retry && r.is_error() && r.str.starts_with("NOSCRIPT")) {
            // Redis lost its script cache (a restart, SCRIPT FLUSH): load
            // it again, then run the command once more.
            conn_->command({"SCRIPT", "LOAD", kSources[s]}, [this, alive, s, args = std::move(args),
                                                             done = std::move(done)](RedisReply l) mutable {
                if (alive.expired()) return done(l);
                if (l.type == RedisReply::Type::string) sha_[s] = l.str;
                eval(s, std::move(args), std::move(done), false);
            });
            return;
        }
        done(std::move(r));
    });
}

void RedisPoolState::reserve(const std::string& account, const std::string& id, std::uint32_t recipients,
                             const pool::Limits& limits, std::function<void(SharedReserve)> done,
                             std::optional<std::int64_t> now_ms) {
    if (!ready()) {
        done(SharedReserve{SharedReserve::Result::unavailable, 0, problem()});
        return;
    }
    eval(kReserve,
         {"3", key('u', account), key('f', account), key('t', account), arg(now_ms), id,
          std::to_string(recipients), std::to_string(limits.daily), std::to_string(limits.recipients),
          std::to_string(limits.hourly), std::to_string(std::int64_t{url_.reservation_ttl_s} * 1000)},
         [this, alive = std::weak_ptr<int>(alive_), done = std::move(done)](RedisReply r) {
             SharedReserve out;
             if (r.type == RedisReply::Type::array && r.elements.size() == 2 &&
                 r.elements[0].type == RedisReply::Type::integer &&
                 r.elements[1].type == RedisReply::Type::integer) {
                 out.result =
                     r.elements[0].integer == 1 ? SharedReserve::Result::ok : SharedReserve::Result::full;
                 out.until_ms = r.elements[1].integer;
                 if (!alive.expired()) {
                     refusal_backoff_ = std::chrono::milliseconds(0);
                     refusal_.clear();
                 }
             } else {
                 out.why = r.str.empty() ? "unexpected reply to the reservation script" : r.str;
                 if (!alive.expired() && !r.io_failed()) refused(out.why);
             }
             done(std::move(out));
         });
}

void RedisPoolState::settle(const std::string& account, const std::string& id, std::uint32_t delivered,
                            std::optional<std::int64_t> now_ms, std::function<void(bool)> done) {
    eval(kSettle,
         {"3", key('u', account), key('f', account), key('t', account), id, std::to_string(delivered),
          arg(now_ms)},
         [this, alive = std::weak_ptr<int>(alive_), done = std::move(done)](RedisReply r) {
             const bool ok = alive.expired() ? !r.io_failed() && !r.is_error() : finished(r, "settle");
             if (done) done(ok);
         });
}

void RedisPoolState::publish(const std::string& account, const std::string& stored, bool by_operator,
                             std::function<void(bool)> done) {
    std::weak_ptr<int> alive = alive_;
    eval(kState,
         {"2", url_.prefix + ":states", url_.prefix + ":seq", account, stored,
          by_operator ? "operator" : "relay"},
         [this, alive, account, done = std::move(done)](RedisReply r) {
             const bool ok = alive.expired() ? !r.io_failed() && !r.is_error() : finished(r, "state");
             if (!ok && !alive.expired())
                 log::warn("redis", "account state not shared yet; given again when Redis takes it",
                           {{"account", account}, {"error", r.str}});
             if (done) done(ok);
         });
}

void RedisPoolState::poll() {
    if (poll_in_flight_ || !conn_->up()) return;
    if (!scripts_loaded_) {
        if (!scripts_loading_) load_scripts();
        return;
    }
    poll_in_flight_ = true;
    const std::uint64_t gen = generation_;
    std::weak_ptr<int> alive = alive_;
    conn_->command({"HGETALL", url_.prefix + ":states"}, [this, alive, gen](RedisReply r) {
        if (alive.expired() || gen != generation_) return;
        poll_in_flight_ = false;
        if (r.type != RedisReply::Type::array) return;
        std::vector<SharedAccountState> states;
        for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2)
            if (auto s = parse_state(r.elements[i].str, r.elements[i + 1].str))
                states.push_back(std::move(*s));
        if (states_hook_) states_hook_(std::move(states));
        polled_ = true;
        set_ready(std::chrono::steady_clock::now() >= refused_until_);
    });
}

void RedisPoolState::schedule_poll() {
    std::weak_ptr<int> alive = alive_;
    timer_->t.expires_after(std::chrono::milliseconds(url_.poll_ms));
    timer_->t.async_wait([this, alive](boost::system::error_code ec) {
        if (ec || alive.expired()) return;
        poll();
        schedule_poll();
    });
}

void RedisPoolState::raw(std::vector<std::string> args, std::function<void(RedisReply)> done) {
    conn_->command(std::move(args), std::move(done));
}

}  // namespace rp::relay
