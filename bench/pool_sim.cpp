// pool_sim: drains a simulated backlog through the REAL pool/ code (Pool::
// reserve/settle/blame/free_slots/next_change) on a virtual clock, and checks
// the result against a ground truth kept outside the pool.
//
// Model (bench/README.md "Pool simulation" has the figures):
// - 100,000 messages queued at t=0, 1-5 recipients each (uniform, fixed seed,
//   drawn from 30,000 addresses); 60 accounts, daily_limit 2000,
//   daily_recipient_limit 2000, connections_per_account 2, cooldown 15 min.
// - Engine loop as relay/engine.cpp + relay/delivery.cpp: while free_slots()
//   > 0, take the oldest ready message and reserve(pending, first pending
//   address); a busy answer sends it to the back of the queue (Kind::busy).
//   When nothing can start, virtual time jumps to the earliest of the next
//   send completion and next_change(now) (the engine's wait_time).
// - A send takes 1.5 s and carries Reservation::recipients (fewer than
//   pending near a limit: the rest stays queued). On completion: settle()
//   then blame(), like conclude(); a blamed or partial message is ready again.
// - Gmail: 3 accounts have bad passwords (535, Blame::disable); 5 accept 600
//   messages in total and then 550 5.4.5 forever (Blame::exhaust); every
//   other send draws 454 4.7.0 (0.5%) or 421 4.7.0 (0.2%) -> Blame::cool_down.
// - Upstream sessions: idle authenticated sessions are reused per account; a
//   session carries at most 50 messages, is dropped after 421/454/535 or 5 min
//   idle. Each new session is one login.
// - Ground truth: every delivered send (account, acceptance time, recipients)
//   is logged here; a two-pointer sweep checks that no rolling 24 h window of
//   any account holds more than 2000 messages or 2000 recipients.
//
// Quota-bound minimum (an estimate; minimum_drain_hours): the N accounts
// that can send their full quota (60 - 3 disabled - 5 capped by Gmail) must
// carry R = all recipients - what the capped accounts carried. Each carries
// at most L = 2000 recipients per 24 h, so k = ceil(R / (N L)) - 1 full
// windows are needed, the last opening at k * 24 h; the remainder r = R - k N L
// then goes at full connection rate: ceil(r / rho / (N C)) sends of 1.5 s per
// connection, rho = mean recipients per message. It assumes no throttle
// cooldowns, no bucket lag (the pool counts a send up to 1 min past 24 h by
// design), no split messages, and every window's sends made at full rate.
// Each strategy runs three times: throttles on with the 15 min cooldown,
// throttles off, throttles on with a 1 min cooldown.
//
// Build and run from the source root:
//   cmake --build build/release --target pool_sim   (bench/CMakeLists.txt)
//   build/release/bench/pool_sim
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <queue>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "pool/pool.hpp"

using namespace std::chrono;
using rp::WallTime;
namespace pool = rp::pool;

namespace {

constexpr int kMessages = 100000, kAccounts = 60, kAddresses = 30000, kConn = 2, kLimit = 2000;
constexpr int kBadPassword = 3, kCapped = 5, kCapMessages = 600, kSessionMax = 50;
constexpr milliseconds kSend{1500};
constexpr minutes kSessionIdle{5};
constexpr hours kDay{24};

struct Message {
    std::vector<std::uint32_t> rcpts;  // address ids
    std::size_t next = 0;              // rcpts[next..] are pending
};
struct Send {
    WallTime done;
    std::uint64_t seq;
    std::size_t msg;
    pool::Reservation r;
    bool operator>(const Send& o) const { return done != o.done ? done > o.done : seq > o.seq; }
};
struct Session {
    int carried = 0;
    WallTime last{};
};
enum class Reply { ok, r454, r421, r535, r550 };

struct Result {
    double drain_h = 0, min_h = 0;
    long violations = 0, max_msgs = 0, max_rcpts = 0, max_conn = 0;
    long sends = 0, picks = 0, logins = 0, busy_spins = 0, busy_picks = 0, throttled = 0, refused_550 = 0;
    double wall_s = 0, reserve_s = 0;
};

// Max messages/recipients any rolling 24 h window of one account holds, and
// how many windows exceed the limit: log = (acceptance time, recipients),
// sorted by time.
void sweep(const std::vector<std::pair<WallTime, int>>& log, Result& out) {
    long msgs = 0, rcpts = 0;
    for (std::size_t lo = 0, hi = 0; hi < log.size(); ++hi) {
        ++msgs;
        rcpts += log[hi].second;
        // Strict: two sends exactly 24 h apart count as the same window.
        for (; log[hi].first - log[lo].first > kDay; ++lo) --msgs, rcpts -= log[lo].second;
        out.max_msgs = std::max(out.max_msgs, msgs);
        out.max_rcpts = std::max(out.max_rcpts, rcpts);
        if (msgs > kLimit || rcpts > kLimit) ++out.violations;
    }
}

double minimum_drain_hours(long total_rcpts, long capped_rcpts) {
    const long n = kAccounts - kBadPassword - kCapped;
    const long r_all = total_rcpts - capped_rcpts;
    const long k = (r_all + n * kLimit - 1) / (n * kLimit) - 1;
    const double rest = static_cast<double>(r_all - k * n * kLimit);
    const double rho = static_cast<double>(total_rcpts) / kMessages;
    const double per_conn = std::ceil(rest / rho / static_cast<double>(n * kConn));
    return static_cast<double>(k) * 24.0 + per_conn * duration<double>(kSend).count() / 3600.0;
}

Result run(rp::config::Strategy strategy, double p454, double p421, minutes cooldown) {
    std::mt19937_64 rng(12);
    std::uniform_int_distribution<int> count(1, 5);
    std::uniform_int_distribution<std::uint32_t> address(0, kAddresses - 1);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<Message> msgs(kMessages);
    std::vector<std::string> names;
    long total_rcpts = 0;
    for (auto& m : msgs) {
        for (int n = count(rng); static_cast<int>(m.rcpts.size()) < n;) {
            const auto a = address(rng);
            if (std::find(m.rcpts.begin(), m.rcpts.end(), a) == m.rcpts.end()) m.rcpts.push_back(a);
        }
        total_rcpts += static_cast<long>(m.rcpts.size());
    }
    for (int i = 0; i < kAddresses; ++i) names.push_back("user" + std::to_string(i) + "@example.net");

    std::vector<rp::config::Account> accounts(kAccounts);
    for (int i = 0; i < kAccounts; ++i) {
        accounts[i].username = "acct" + std::to_string(100 + i) + "@example.com";  // names sort by id
        accounts[i].daily_limit = kLimit;
        accounts[i].daily_recipient_limit = kLimit;
    }
    pool::Options options;
    options.strategy = strategy;
    options.connections_per_account = kConn;
    options.cooldown_temporary = cooldown;
    pool::Pool p(accounts, options);
    // Accounts 0..2 have bad passwords, 3..7 are capped by Gmail.
    auto bad = [](pool::AccountId a) { return a < kBadPassword; };
    auto capped = [](pool::AccountId a) { return a >= kBadPassword && a < kBadPassword + kCapped; };

    const WallTime t0 = WallTime{} + hours(24 * 365 * 56);  // a UTC midnight
    WallTime now = t0;
    std::deque<std::size_t> ready;
    for (std::size_t i = 0; i < msgs.size(); ++i) ready.push_back(i);
    std::priority_queue<Send, std::vector<Send>, std::greater<>> flying;
    std::vector<std::vector<Session>> idle(kAccounts);
    std::vector<std::vector<std::pair<WallTime, int>>> truth(kAccounts);  // delivered sends
    std::vector<long> gmail_count(kAccounts, 0), in_flight(kAccounts, 0);
    std::vector<Session> session_of;  // by send seq
    Result res;
    long done = 0, capped_rcpts = 0;
    std::uint64_t seq = 0;

    const auto wall0 = steady_clock::now();
    while (done < kMessages) {
        // Start what can start (engine loop: free_slots(), take_due, reserve).
        std::vector<std::size_t> busy;
        while (!ready.empty() && p.any_usable(now) && p.free_slots(now) > 0) {
            const std::size_t id = ready.front();
            ready.pop_front();
            Message& m = msgs[id];
            ++res.picks;
            const auto pick0 = steady_clock::now();
            pool::Reservation r = p.reserve(m.rcpts.size() - m.next, names[m.rcpts[m.next]], now);
            res.reserve_s += duration<double>(steady_clock::now() - pick0).count();
            if (!r) {
                busy.push_back(id);  // busy (sticky); "held" cannot happen with free slots
                continue;
            }
            auto& sessions = idle[r.account];
            std::erase_if(sessions, [&](const Session& s) { return now - s.last > kSessionIdle; });
            const bool reuse = !sessions.empty();  // else a new session: one login
            res.logins += !reuse;
            session_of.push_back(reuse ? sessions.back() : Session{});
            if (reuse) sessions.pop_back();
            res.max_conn = std::max(res.max_conn, ++in_flight[r.account]);
            flying.push(Send{now + kSend, seq++, id, r});
        }
        // Free slots but due messages whose sticky account is full: the real
        // engine relaunches them (a spool load each) until a send finishes.
        if (!busy.empty() && p.free_slots(now) > 0) ++res.busy_spins;
        res.busy_picks += static_cast<long>(busy.size());
        ready.insert(ready.end(), busy.begin(), busy.end());
        p.take_journal();  // relay/pool_keeper.* drains it (and writes pool.state)

        // Nothing more can start: jump to the next completion or pool change.
        std::optional<WallTime> next = p.next_change(now);
        if (!flying.empty() && (!next || flying.top().done < *next)) next = flying.top().done;
        if (!next) {
            std::fprintf(stderr, "stuck: %zu messages left, nothing will change\n", ready.size());
            break;
        }
        now = std::max(now, *next);
        while (!flying.empty() && flying.top().done <= now) {
            const Send s = flying.top();
            flying.pop();
            const pool::AccountId a = s.r.account;
            --in_flight[a];
            ++res.sends;
            Message& m = msgs[s.msg];
            const double u = unit(rng);
            const Reply reply = bad(a)                                        ? Reply::r535
                                : capped(a) && gmail_count[a] >= kCapMessages ? Reply::r550
                                : u < p454                                    ? Reply::r454
                                : u < p454 + p421                             ? Reply::r421
                                                                              : Reply::ok;
            Session sess = session_of[s.seq];
            if (reply == Reply::ok) {
                p.settle(s.r, s.r.recipients, now);
                truth[a].emplace_back(now, static_cast<int>(s.r.recipients));
                ++gmail_count[a];
                if (capped(a)) capped_rcpts += static_cast<long>(s.r.recipients);
                m.next += s.r.recipients;
            } else {
                p.settle(s.r, 0, now);
                static const char* why[] = {"", "454 4.7.0 Try again later", "421 4.7.0 Try again later",
                                            "535 5.7.8 Username and Password not accepted",
                                            "550 5.4.5 Daily user sending limit exceeded"};
                const auto blame = reply == Reply::r535   ? pool::Blame::disable
                                   : reply == Reply::r550 ? pool::Blame::exhaust
                                                          : pool::Blame::cool_down;
                p.blame(a, blame, why[static_cast<int>(reply)], now);
                res.throttled += blame == pool::Blame::cool_down;
                res.refused_550 += reply == Reply::r550;
            }
            if (m.next < m.rcpts.size())
                ready.push_back(s.msg);  // partial or refused: ready again
            else
                ++done;
            // The session survives ok and 550 (RSET), up to 50 messages.
            if ((reply == Reply::ok || reply == Reply::r550) && ++sess.carried < kSessionMax) {
                sess.last = now;
                idle[a].push_back(sess);
            }
        }
    }
    res.wall_s = duration<double>(steady_clock::now() - wall0).count();
    res.drain_h = duration<double>(now - t0).count() / 3600.0;
    res.min_h = minimum_drain_hours(total_rcpts, capped_rcpts);
    for (auto& log : truth) sweep(log, res);
    return res;
}

}  // namespace

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // rows appear as they finish
    using S = rp::config::Strategy;
    const char* names[] = {"round-robin", "least-used", "sticky"};
    std::printf("%-11s %-7s %8s %8s %7s %4s %7s %8s %4s %6s %4s %4s %8s %6s %7s %7s\n", "strategy", "thr/cd",
                "drain h", "min h", "ratio", "viol", "max msg", "max rcpt", "conn", "sends", "thr", "550",
                "logins/m", "wall s", "picks/s", "us/pick");
    for (const auto& [p454, p421, cooldown] :
         {std::tuple{0.005, 0.002, 15}, std::tuple{0.0, 0.0, 15}, std::tuple{0.005, 0.002, 1}})
        for (S s : {S::round_robin, S::least_used, S::sticky}) {
            const Result r = run(s, p454, p421, minutes(cooldown));
            const std::string variant = (p454 > 0 ? "on/" : "off/") + std::to_string(cooldown) + "m";
            std::printf(
                "%-11s %-7s %8.3f %8.3f %7.4f %4ld %7ld %8ld %4ld %6ld %4ld %4ld %8.4f %6.2f %7.0f %7.2f\n",
                names[static_cast<int>(s)], variant.c_str(), r.drain_h, r.min_h, r.drain_h / r.min_h,
                r.violations, r.max_msgs, r.max_rcpts, r.max_conn, r.sends, r.throttled, r.refused_550,
                static_cast<double>(r.logins) / kMessages, r.wall_s, static_cast<double>(r.picks) / r.wall_s,
                1e6 * r.reserve_s / static_cast<double>(r.picks));
            if (r.busy_picks)
                std::printf("  %ld picks answered busy; at %ld instants free slots were left unused\n",
                            r.busy_picks, r.busy_spins);
        }
}
