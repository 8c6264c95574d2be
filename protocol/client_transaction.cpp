// ClientSession, transaction half: MAIL, RCPT, DATA or BDAT, streaming the
// body through the MessageFilter, and the RSET that ends every message (see
// client_session_impl.hpp).
// Invariants: with PIPELINING, MAIL + every RCPT (+ DATA) go in one write
// and the replies are consumed in order; when every RCPT failed no body is
// sent; a per-recipient outcome is final once set (RCPT 2xx + body 2xx =
// delivered); a MAIL/DATA/body failure is every still-pending recipient's.
#include "protocol/client_session_impl.hpp"

namespace rp::protocol {

// ---- message bookkeeping ---------------------------------------------------
void ClientSession::Impl::finish_message_with(const UpstreamOutcome& o) {
    if (!in_message) return;
    for (auto& r : results)
        if (!r) r = o;
    close_message();
}

void ClientSession::Impl::close_message() {
    MessageResult mr;
    for (auto& r : results) mr.recipients.push_back(r ? std::move(*r) : UpstreamOutcome{});
    result = std::move(mr);
    in_message = false;
    filter.reset();
    bdat_buf.clear();
}

// Pending (accepted, not yet final) recipients get `o`.
void ClientSession::Impl::settle_accepted(const UpstreamOutcome& o) {
    for (std::size_t i = 0; i < results.size(); ++i)
        if (accepted[i] && !results[i]) results[i] = o;
}

bool ClientSession::Impl::any_accepted() const {
    for (std::size_t i = 0; i < accepted.size(); ++i)
        if (accepted[i] && !results[i]) return true;
    return false;
}

// The transaction is over: record the result, RSET before anything else.
void ClientSession::Impl::end_message() {
    finish_message_with(UpstreamOutcome{Stage::body, 0, "", "no reply", LocalFailure::protocol});
    command("RSET", ExpectKind::rset, Stage::rset, cfg.timeouts.command);
}

// ---- commands and replies ------------------------------------------------------
std::string ClientSession::Impl::mail_command() const {
    std::string line = "MAIL FROM:<" + msg.mail_from + ">";
    if (caps.size && msg.size > 0) line += " SIZE=" + std::to_string(msg.size);
    if (msg.body_8bitmime && caps.eightbitmime) line += " BODY=8BITMIME";
    if (msg.smtputf8 && caps.smtputf8) line += " SMTPUTF8";
    return line;
}

std::string ClientSession::Impl::rcpt_command(std::size_t i) const {
    return "RCPT TO:<" + msg.recipients[i] + ">";
}

void ClientSession::Impl::begin(OutgoingMessage m) {
    msg = std::move(m);
    in_message = true;
    result.reset();
    results.assign(msg.recipients.size(), std::nullopt);
    accepted.assign(msg.recipients.size(), false);
    mail_ok = false;
    end_sent = false;
    ++messages_started;
    pipelined = cfg.use_pipelining && caps.pipelining;
    if (cfg.use_chunking && caps.chunking)
        body_mode = BodyMode::bdat;
    else
        body_mode = pipelined ? BodyMode::data_pipelined : BodyMode::data;
    filter.emplace(msg.filter);
    stuffer = DotStuffer{};
    bdat_buf.clear();
    command(mail_command(), ExpectKind::mail, Stage::mail, cfg.timeouts.mail);
    if (!pipelined) return;
    for (std::size_t i = 0; i < msg.recipients.size(); ++i) send_rcpt(i);
    if (body_mode == BodyMode::data_pipelined)
        command("DATA", ExpectKind::data, Stage::data, cfg.timeouts.data_init);
}

void ClientSession::Impl::send_rcpt(std::size_t i) {
    command(rcpt_command(i), ExpectKind::rcpt, Stage::rcpt, cfg.timeouts.rcpt);
    expects.back().index = i;
}

void ClientSession::Impl::on_mail(const UpstreamReply& r) {
    if (r.code == 421) return fail_reply(Stage::mail, r);
    if (!r.positive()) {
        const auto o = outcome_of(Stage::mail, r);
        for (auto& x : results) x = o;
        if (!pipelined) end_message();  // pipelined: RCPT/DATA replies still to consume
        return;
    }
    mail_ok = true;
    if (!pipelined) send_rcpt(0);
}

void ClientSession::Impl::on_rcpt(std::size_t i, const UpstreamReply& r) {
    if (r.code == 421) return fail_reply(Stage::rcpt, r);
    if (mail_ok) {
        if (r.positive())
            accepted[i] = true;
        else
            results[i] = outcome_of(Stage::rcpt, r);
    }
    const bool last = i + 1 == msg.recipients.size();
    if (!pipelined && !last) return send_rcpt(i + 1);
    if (!last || body_mode == BodyMode::data_pipelined) return;  // the DATA reply decides
    if (!any_accepted()) return end_message();
    if (body_mode == BodyMode::bdat) {
        step = Step::body;
        return;
    }
    command("DATA", ExpectKind::data, Stage::data, cfg.timeouts.data_init);
}

void ClientSession::Impl::on_data(const UpstreamReply& r) {
    if (r.code == 421) return fail_reply(Stage::data, r);
    const bool wanted = mail_ok && any_accepted();
    if (r.code == 354) {
        if (wanted) {
            step = Step::body;
            return;
        }
        // RFC 2920 3.1: DATA accepted with no valid recipient: send an empty
        // message so the server rejects it, then RSET.
        send(".\r\n", cfg.timeouts.data_end);
        expect(ExpectKind::ignore, Stage::body, cfg.timeouts.data_end);
        return;
    }
    if (r.positive()) return fail_reply(Stage::data, r);  // 2xx to DATA: no body was sent, never "delivered"
    if (wanted) settle_accepted(outcome_of(Stage::data, r));
    end_message();
}

void ClientSession::Impl::on_bdat_chunk(const UpstreamReply& r) {
    if (r.code == 421) return fail_reply(Stage::body, r);
    if (r.positive()) return;
    settle_accepted(outcome_of(Stage::body, r));
    end_message();  // RFC 3030: after a failed BDAT the transaction is over; RSET
}

void ClientSession::Impl::on_body_end(const UpstreamReply& r) {
    if (r.code == 421) return fail_reply(Stage::body, r);
    settle_accepted(outcome_of(Stage::body, r));
    end_message();
}

void ClientSession::Impl::on_rset(const UpstreamReply& r) {
    if (r.code != 250) return fail_reply(Stage::rset, r);
    go_idle();
}

// ---- body streaming ------------------------------------------------------------------
void ClientSession::Impl::emit_bdat(std::string_view chunk, bool last) {
    std::string head = "BDAT " + std::to_string(chunk.size()) + (last ? " LAST" : "") + "\r\n";
    send(head, cfg.timeouts.data_block);
    send(chunk, cfg.timeouts.data_block);
    if (last)
        expect(ExpectKind::body_end, Stage::body, cfg.timeouts.data_end);
    else
        expect(ExpectKind::bdat_chunk, Stage::body, cfg.timeouts.data_block);
}

void ClientSession::Impl::body_data(std::string_view raw) {
    if (step != Step::body || failure) return;
    std::string filtered;
    filter->feed(raw, filtered);
    if (body_mode != BodyMode::bdat) {
        stuffer.feed(filtered, out);
        out_timeout = cfg.timeouts.data_block;
        return;
    }
    bdat_buf += filtered;
    if (bdat_buf.size() < cfg.bdat_chunk_size) return;
    emit_bdat(bdat_buf, false);
    bdat_buf.clear();
}

void ClientSession::Impl::body_end() {
    if (step != Step::body || failure) return;
    std::string filtered;
    filter->finish(filtered);
    step = Step::wait_replies;
    end_sent = true;
    if (body_mode == BodyMode::bdat) {
        bdat_buf += filtered;
        emit_bdat(bdat_buf, true);
        bdat_buf.clear();
        return;
    }
    stuffer.feed(filtered, out);
    stuffer.finish(out);
    out_timeout = cfg.timeouts.data_block;
    expect(ExpectKind::body_end, Stage::body, cfg.timeouts.data_end);
}

}  // namespace rp::protocol
