// Bounces (see bounce.hpp): DSN text from protocol::build_dsn, queued via the
// spool intake from <>.
#include "relay/bounce.hpp"

#include <atomic>

#include "common/log.hpp"
#include "protocol/dsn.hpp"
#include "relay/spool_await.hpp"

namespace rp::relay {

namespace {

// Headers are all a DSN without RET=FULL returns; 64 KiB holds them.
constexpr std::uint64_t kHeadersOnlyBytes = 64 * 1024;

// RET=FULL returns the whole message only up to this size (docs/delivery.md
// "Bounces"). Beyond it the DSN would hold up to max_message_size (35 MB) in
// memory and could itself exceed the upstream's size limit: a DSN from <>
// that is refused is dropped, so the sender would never learn of the failure.
// RFC 3461 4.3 lets an MTA return only the headers; larger messages do.
constexpr std::uint64_t kReturnFullMax = 1024 * 1024;

std::string unique_suffix() {
    static std::atomic<std::uint64_t> counter{0};
    return std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "." +
           std::to_string(++counter);
}

}  // namespace

boost::asio::awaitable<spool::SpoolResult<std::string>> queue_bounce(
    DeliveryContext& ctx, const spool::QueuedMessage& message, const std::vector<BouncedRecipient>& bounced,
    const std::string& reason) {
    const spool::EnvelopeSpec& spec = message.envelope.spec;
    protocol::DsnInput input;
    for (const auto& b : bounced) {
        const spool::RecipientSpec& r = spec.recipients.at(b.index);
        if (!protocol::should_bounce(spec.mail_from, r.notify, protocol::DsnAction::failed)) continue;
        protocol::DsnRecipient d;
        d.address = r.address;
        d.orcpt = r.orcpt;
        d.action = protocol::DsnAction::failed;
        d.reply = b.reply;
        d.status = b.status;
        d.remote_mta = b.reply.code != 0 ? ctx.options.remote_mta : "";
        input.recipients.push_back(std::move(d));
    }
    if (input.recipients.empty()) co_return spool::SpoolResult<std::string>{};

    const bool asked_full = spec.ret == "FULL" || spec.ret == "full";
    const bool full = asked_full && message.body_size <= kReturnFullMax;
    auto original = ctx.spool.read_body(message.id, full ? kReturnFullMax : kHeadersOnlyBytes);
    if (!original) co_return spool::SpoolResult<std::string>{original.error, {}};
    std::string why = reason;
    if (asked_full && !full)
        why += ". The message (" + std::to_string(message.body_size) +
               " bytes) is too large to return in full (limit " + std::to_string(kReturnFullMax) +
               " bytes); only its headers are included";

    const std::string suffix = unique_suffix();
    input.reporting_mta = ctx.options.hostname;
    input.envelope_sender = spec.mail_from;
    input.envid = spec.envid;
    input.return_full = full;
    input.arrival = message.envelope.arrival;
    input.now = ctx.clock.now();
    input.boundary = message.id + "/" + suffix + "/" + ctx.options.hostname;
    input.message_id = "<dsn." + message.id + "." + suffix + "@" + ctx.options.hostname + ">";
    input.original = original.value;
    input.reason = why;
    const std::string text = protocol::build_dsn(input);

    spool::EnvelopeSpec dsn_env;
    dsn_env.mail_from = "";  // the null sender: a DSN never causes another DSN
    dsn_env.recipients.push_back(spool::RecipientSpec{spec.mail_from, "", ""});
    dsn_env.smtputf8 = spec.smtputf8;
    dsn_env.body_8bitmime = true;
    dsn_env.listener = "dsn";
    dsn_env.client_addr = "";
    dsn_env.helo = ctx.options.hostname;
    auto writer = ctx.intake.begin(dsn_env);
    if (!writer) co_return spool::SpoolResult<std::string>{std::make_error_code(std::errc::io_error), {}};
    if (!writer->append(text)) {
        writer->abort();
        co_return spool::SpoolResult<std::string>{std::make_error_code(std::errc::no_space_on_device), {}};
    }
    auto [ec, id] = co_await async_commit(*writer);
    if (ec) co_return spool::SpoolResult<std::string>{ec, {}};
    log::info("bounce", "dsn queued",
              {{"id", message.id}, {"dsn", id}, {"to", spec.mail_from}, {"reason", reason}});
    co_return spool::SpoolResult<std::string>{{}, id};
}

}  // namespace rp::relay
