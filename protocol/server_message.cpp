// ServerSession message bodies: DATA (dot-stuffed, read by DataReader) and
// BDAT chunks (raw octets), size accounting, and dropping a message that can
// no longer be stored while still reading it to its end.
#include <algorithm>

#include "protocol/server_session_impl.hpp"

namespace rp::protocol {

Envelope ServerSession::Impl::envelope_for_begin() const {
    Envelope e = txn.envelope;
    e.helo = helo;
    e.auth_user = auth_user;
    e.client_addr = opt.client_addr;
    e.listener = opt.listener;
    e.tls = tls_active;
    e.protocol = protocol_name();
    return e;
}

void ServerSession::Impl::start_data() {
    begin_for_bdat = false;
    set_pending(action::BeginMessage{envelope_for_begin()});
}

void ServerSession::Impl::start_bdat(const BdatParams& bdat, std::optional<Reply> refuse) {
    chunk_size = bdat.size;
    chunk_left = bdat.size;
    chunk_last = bdat.last;
    mode = Mode::bdat;
    if (refuse) {
        // A chunk bigger than the whole size limit cannot be a message we
        // accept; reading (say) 2^60 octets to stay in sync is pointless.
        if (bdat.size > opt.max_message_size) {
            abort_if_begun(action::AbortReason::too_big);
            reset_transaction();
            mode = Mode::command;
            close_with(*refuse);
            return;
        }
        const bool too_big = refuse->code == 552;
        drop_message(too_big ? action::AbortReason::too_big : action::AbortReason::cancelled,
                     std::move(*refuse));
        return;
    }
    txn.bdat_started = true;
    if (!txn.begun) {
        begin_for_bdat = true;
        set_pending(action::BeginMessage{envelope_for_begin()});
    }
}

void ServerSession::Impl::drop_message(action::AbortReason reason, Reply final_reply) {
    dropping = true;
    drop_reply = std::move(final_reply);
    abort_if_begun(reason);
}

bool ServerSession::Impl::step_data() {
    if (reader.done()) {
        end_of_message();
        return true;
    }
    const std::string_view avail = std::string_view(in).substr(in_pos);
    if (avail.empty()) return false;
    data_out.clear();
    in_pos += reader.feed(avail.substr(0, kMaxDataSlice), data_out);
    if (!dropping) {
        txn.body_size += data_out.size();
        if (txn.body_size > opt.max_message_size) {
            drop_message(action::AbortReason::too_big, Reply::message_too_big());
        } else if (!data_out.empty()) {
            set_pending(action::MessageData{data_out});
        }
    }
    if (reader.done() && !pending) end_of_message();
    return true;
}

void ServerSession::Impl::end_of_message() {
    const std::uint64_t longest = reader.longest_line();
    reader.reset();
    if (dropping) {
        Reply r = drop_reply.value_or(Reply::local_error());
        reset_transaction();
        mode = Mode::command;
        reply(r);
        return;
    }
    mode = Mode::command;
    set_pending(action::CommitMessage{longest});
}

// Chunk octets go through bdat_lines (bare CR / LF -> CRLF); a CR at the
// end of the LAST chunk is written out before the commit.
bool ServerSession::Impl::step_bdat() {
    if (chunk_left == 0) {
        if (chunk_last && !dropping && bdat_lines.pending_cr()) {
            data_out.clear();
            bdat_lines.finish(data_out);
            add_bdat_output();
            return true;
        }
        chunk_complete();
        return true;
    }
    const std::string_view avail = std::string_view(in).substr(in_pos);
    if (avail.empty()) return false;
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>({chunk_left, avail.size(), static_cast<std::uint64_t>(kMaxDataSlice)}));
    in_pos += n;
    chunk_left -= n;
    if (dropping) return true;
    data_out.clear();
    bdat_lines.feed(avail.substr(0, n), data_out);
    add_bdat_output();
    return true;
}

// Normalising can only add octets, so the size limit is checked on what is
// stored, as for DATA.
void ServerSession::Impl::add_bdat_output() {
    txn.body_size += data_out.size();
    if (txn.body_size > opt.max_message_size) {
        drop_message(action::AbortReason::too_big, Reply::message_too_big());
    } else if (!data_out.empty()) {
        set_pending(action::MessageData{data_out});
    }
}

void ServerSession::Impl::chunk_complete() {
    mode = Mode::command;
    if (dropping) {
        Reply r = drop_reply.value_or(Reply::local_error());
        reset_transaction();
        reply(r);
        return;
    }
    if (chunk_last) {
        set_pending(action::CommitMessage{});
        return;
    }
    reply(Reply::chunk_received(chunk_size));
}

}  // namespace rp::protocol
