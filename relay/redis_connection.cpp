// RedisConnection: hiredis formats and parses, Asio carries the bytes (see
// redis_connection.hpp for why and for the invariants).
#include "relay/redis_connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <deque>

#include "common/log.hpp"

namespace rp::relay {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

RedisReply failed(std::string why) {
    RedisReply r;
    r.str = std::move(why);
    return r;
}

}  // namespace

// One TCP (or TLS) connection; a reconnect makes a new one, so operations of
// a dead link never touch the next.
struct Link {
    Link(const net::any_io_executor& ex, ssl::context& ctx) : stream(ex, ctx), wake(ex), closed(ex) {
        wake.expires_at(net::steady_timer::time_point::max());
        closed.expires_at(net::steady_timer::time_point::max());
    }
    ssl::stream<tcp::socket> stream;
    bool tls = false;
    std::string out;                                   // formatted, not yet written
    std::deque<RedisConnection::Callback> pending;     // written or queued, reply not yet read
    std::chrono::steady_clock::time_point progress{};  // last reply (or first wait)
    ReplyParser parser;
    net::steady_timer wake;    // cancelled when `out` has bytes
    net::steady_timer closed;  // cancelled when the link is over
    bool ready = false;        // AUTH and SELECT done
    bool dead = false;
    std::string why;
    tcp::socket& socket() { return stream.next_layer(); }
};

struct RedisConnection::Impl : std::enable_shared_from_this<Impl> {
    Impl(net::any_io_executor ex, RedisOptions o)
        : executor(std::move(ex)), options(std::move(o)), tls(ssl::context::tls_client), backoff(executor) {}

    net::any_io_executor executor;
    RedisOptions options;
    ssl::context tls;
    net::steady_timer backoff;
    std::shared_ptr<Link> link;
    bool stopped = false;
    bool started = false;
    std::string problem = "connecting to Redis";
    std::function<void()> up_hook, down_hook;

    bool up() const { return link && link->ready && !link->dead; }

    void close(const std::shared_ptr<Link>& l, std::string why) {
        if (l->dead) return;
        l->dead = true;
        l->why = std::move(why);
        boost::system::error_code ignored;
        l->socket().close(ignored);
        l->wake.cancel();
        l->closed.cancel();
        auto pending = std::move(l->pending);
        std::weak_ptr<Impl> weak = shared_from_this();
        for (auto& cb : pending)
            net::post(executor, [weak, cb = std::move(cb), w = l->why] {
                auto self = weak.lock();
                if (self && !self->stopped) cb(failed(w));
            });
    }

    void send(const std::shared_ptr<Link>& l, const std::vector<std::string>& args, Callback done) {
        l->out += format_command(args);
        if (l->pending.empty()) l->progress = std::chrono::steady_clock::now();
        l->pending.push_back(std::move(done));
        l->wake.cancel();
    }

    net::awaitable<void> writer(std::shared_ptr<Link> l) {
        while (!l->dead) {
            if (l->out.empty()) {
                boost::system::error_code ec;
                l->wake.expires_at(net::steady_timer::time_point::max());
                co_await l->wake.async_wait(net::redirect_error(net::use_awaitable, ec));
                continue;
            }
            std::string batch = std::move(l->out);
            l->out.clear();
            boost::system::error_code ec;
            if (l->tls)
                co_await net::async_write(l->stream, net::buffer(batch),
                                          net::redirect_error(net::use_awaitable, ec));
            else
                co_await net::async_write(l->socket(), net::buffer(batch),
                                          net::redirect_error(net::use_awaitable, ec));
            if (ec) close(l, "write failed: " + ec.message());
        }
    }

    net::awaitable<void> reader(std::shared_ptr<Link> l) {
        char buf[16384];
        while (!l->dead) {
            boost::system::error_code ec;
            std::size_t n = 0;
            if (l->tls)
                n = co_await l->stream.async_read_some(net::buffer(buf),
                                                       net::redirect_error(net::use_awaitable, ec));
            else
                n = co_await l->socket().async_read_some(net::buffer(buf),
                                                         net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                close(l,
                      ec == net::error::eof ? "connection closed by Redis" : "read failed: " + ec.message());
                break;
            }
            l->parser.feed(buf, n);
            if (!drain(l)) break;
        }
    }

    // Hands every complete reply to its command; false when the link died.
    bool drain(const std::shared_ptr<Link>& l) {
        for (;;) {
            RedisReply reply;
            const ReplyParser::Next got = l->parser.next(reply);
            if (got == ReplyParser::Next::protocol_error) {
                close(l, "protocol error from Redis");
                return false;
            }
            if (got == ReplyParser::Next::need_more) return true;
            if (l->pending.empty()) {
                close(l, "reply without a command");
                return false;
            }
            Callback cb = std::move(l->pending.front());
            l->pending.pop_front();
            l->progress = std::chrono::steady_clock::now();
            cb(std::move(reply));
            if (l->dead) return false;
        }
    }

    // A reply overdue by `timeout` ends the link.
    net::awaitable<void> watchdog(std::shared_ptr<Link> l) {
        net::steady_timer t(executor);
        while (!l->dead) {
            t.expires_after(options.timeout / 4);
            boost::system::error_code ec;
            co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
            if (!l->dead && !l->pending.empty() &&
                std::chrono::steady_clock::now() - l->progress > options.timeout)
                close(l, "no reply within " + std::to_string(options.timeout.count()) + " ms");
        }
    }

    // Connects (TCP, then TLS when asked) within `timeout`; "" on success.
    net::awaitable<std::string> connect(std::shared_ptr<Link> l) {
        // Resolution first, bounded by resolv.conf's timeouts: a deadline running during a
        // slow lookup (a dead first nameserver: 5 s) expired every attempt after its connect.
        tcp::resolver resolver(executor);
        boost::system::error_code ec;
        auto endpoints = co_await resolver.async_resolve(options.host, std::to_string(options.port),
                                                         net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return "cannot resolve " + options.host + ": " + ec.message();
        net::steady_timer limit(executor);
        limit.expires_after(options.timeout);
        auto timed_out = std::make_shared<bool>(false);
        limit.async_wait([l, timed_out](boost::system::error_code ec) {
            if (ec) return;
            *timed_out = true;
            boost::system::error_code ignored;
            l->socket().close(ignored);
        });
        co_await net::async_connect(l->socket(), endpoints, net::redirect_error(net::use_awaitable, ec));
        if (!ec && options.tls) {
            l->tls = true;
            SSL_set_tlsext_host_name(l->stream.native_handle(), options.host.c_str());
            if (options.tls_verify) {
                l->stream.set_verify_mode(ssl::verify_peer);
                l->stream.set_verify_callback(ssl::host_name_verification(options.host));
            } else {
                l->stream.set_verify_mode(ssl::verify_none);
            }
            co_await l->stream.async_handshake(ssl::stream_base::client,
                                               net::redirect_error(net::use_awaitable, ec));
        }
        limit.cancel();
        if (*timed_out)
            co_return "connect timed out after " + std::to_string(options.timeout.count()) + " ms";
        if (ec) co_return (options.tls ? "connect/TLS failed: " : "connect failed: ") + ec.message();
        l->socket().set_option(tcp::no_delay(true), ec);
        co_return std::string();
    }

    // AUTH and SELECT; the link is ready (and the owner told) when both pass.
    void hello(const std::shared_ptr<Link>& l) {
        std::weak_ptr<Impl> weak = shared_from_this();
        if (!options.password.empty())
            send(l, {"AUTH", options.password}, [this, weak, l](RedisReply r) {
                if (weak.expired()) return;
                if (r.is_error()) close(l, "AUTH refused: " + r.str);
            });
        send(l, {"SELECT", std::to_string(options.db)}, [this, weak, l](RedisReply r) {
            if (weak.expired() || l->dead) return;
            if (r.is_error() || r.io_failed()) {
                close(l, "SELECT failed: " + r.str);
                return;
            }
            l->ready = true;
            problem.clear();
            log::info("redis", "connected", {{"redis", describe()}});
            if (up_hook) up_hook();
        });
    }

    net::awaitable<void> run() {
        auto self = shared_from_this();
        std::chrono::milliseconds delay = options.backoff_initial;
        while (!stopped) {
            auto l = std::make_shared<Link>(executor, tls);
            std::string why = co_await connect(l);
            if (stopped) break;
            if (why.empty()) {
                link = l;
                net::co_spawn(executor, reader(l), net::detached);
                net::co_spawn(executor, writer(l), net::detached);
                net::co_spawn(executor, watchdog(l), net::detached);
                hello(l);
                boost::system::error_code ec;
                co_await l->closed.async_wait(net::redirect_error(net::use_awaitable, ec));
                const bool was_up = l->ready;
                link.reset();
                why = l->why;
                if (was_up) {
                    delay = options.backoff_initial;
                    if (down_hook && !stopped) down_hook();
                }
            }
            if (stopped) break;
            if (problem.empty() || problem == "connecting to Redis")
                log::error("redis", "Redis unreachable; deliveries wait, intake goes on; reconnecting",
                           {{"redis", describe()}, {"error", why}});
            problem = "Redis unreachable (" + describe() + "): " + why;
            backoff.expires_after(delay);
            boost::system::error_code ec;
            co_await backoff.async_wait(net::redirect_error(net::use_awaitable, ec));
            delay = std::min(delay * 2, options.backoff_max);
        }
    }

    std::string describe() const {
        return std::string(options.tls ? "rediss://" : "redis://") + options.host + ":" +
               std::to_string(options.port) + "/" + std::to_string(options.db);
    }
};

RedisConnection::RedisConnection(net::any_io_executor executor, RedisOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {
    impl_->tls.set_default_verify_paths();
    if (!impl_->options.ca_file.empty()) {
        boost::system::error_code ec;
        impl_->tls.load_verify_file(impl_->options.ca_file, ec);
        if (ec)
            log::error("redis", "cannot load the CA file",
                       {{"file", impl_->options.ca_file}, {"error", ec.message()}});
    }
}

RedisConnection::~RedisConnection() {
    stop();
}

void RedisConnection::start() {
    if (impl_->started) return;
    impl_->started = true;
    net::co_spawn(impl_->executor, impl_->run(), net::detached);
}

void RedisConnection::stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->up_hook = nullptr;
    impl_->down_hook = nullptr;
    impl_->backoff.cancel();
    if (impl_->link) {
        // The owner is still alive (it calls stop() first): its callbacks
        // learn now, synchronously, that their commands are over.
        auto l = impl_->link;
        auto pending = std::move(l->pending);
        impl_->close(l, "stopped");
        for (auto& cb : pending) cb(failed("stopped"));
    }
}

void RedisConnection::command(std::vector<std::string> args, Callback done) {
    if (impl_->stopped) return;
    if (!impl_->up()) {
        std::weak_ptr<Impl> weak = impl_;
        net::post(impl_->executor, [weak, done = std::move(done), why = impl_->problem] {
            auto self = weak.lock();
            if (self && !self->stopped) done(failed(why));
        });
        return;
    }
    impl_->send(impl_->link, args, std::move(done));
}

void RedisConnection::reconnect(const std::string& why) {
    if (impl_->link) impl_->close(impl_->link, why);
}

bool RedisConnection::up() const {
    return impl_->up();
}

std::string RedisConnection::problem() const {
    return impl_->up() ? std::string() : impl_->problem;
}

void RedisConnection::on_up(std::function<void()> f) {
    impl_->up_hook = std::move(f);
}

void RedisConnection::on_down(std::function<void()> f) {
    impl_->down_hook = std::move(f);
}

std::string RedisConnection::describe() const {
    return impl_->describe();
}

}  // namespace rp::relay
