// Private state of ServerSession, shared by its three translation units:
// server_session.cpp (framing, actions, async results), server_verbs.cpp
// (one check/proceed row per verb) and server_message.cpp (DATA and BDAT
// bodies). Not for use outside protocol/server_*.cpp.
//
// Invariants: at most one of {pending, awaiting} is set at a time; `out`
// holds formatted replies not yet handed to the driver; `in[in_pos..]` holds
// unprocessed client bytes; in command mode it never holds more than one
// read plus a line prefix below the line limit.
#pragma once

#include <optional>
#include <string>

#include "protocol/data_reader.hpp"
#include "protocol/line_ends.hpp"
#include "protocol/sasl_server.hpp"
#include "protocol/server_session.hpp"

namespace rp::protocol {

inline constexpr std::size_t kMaxCommandLine = 512;      // octets including CRLF (RFC 5321 4.5.3.1.4)
inline constexpr std::size_t kMaxAuthLine = 12288;       // RFC 4954 4
inline constexpr std::size_t kMaxDataSlice = 64 * 1024;  // largest MessageData handed out at once
inline constexpr std::size_t kIdleBufferKeep = 4096;     // buffer capacity an idle session may keep

enum class Mode {
    command,    // reading command lines
    skip_line,  // discarding the rest of an over-long line
    sasl,       // reading an AUTH continuation line
    data,       // DATA content until CRLF.CRLF
    bdat,       // BDAT chunk octets
};

enum class Await { none, tls, auth, begin, commit };

struct Transaction {
    bool active = false;  // MAIL accepted
    Envelope envelope;
    bool begun = false;           // BeginMessage done and accepted
    bool bdat_started = false;    // a BDAT was accepted in this transaction
    std::uint64_t body_size = 0;  // unstuffed octets so far
};

struct ServerSession::Impl {
    explicit Impl(SessionOptions o);

    SessionOptions opt;
    std::string in;
    std::size_t in_pos = 0;
    std::string out;
    std::string data_out;  // backing store of the last MessageData
    Mode mode = Mode::command;
    Mode skip_return = Mode::command;  // mode after skip_line
    std::optional<Action> pending;
    Await awaiting = Await::none;
    bool closing = false;  // Close after `out` is written
    bool closed = false;

    // Session state (reset by STARTTLS).
    bool storage_low = false;  // set by the driver before each feed (not reset by STARTTLS)
    bool tls_active = false;
    bool esmtp = false;
    std::string helo;
    bool authenticated = false;
    std::string auth_user;
    int errors = 0;
    int junk_commands = 0;  // since the last accepted message (see SessionOptions)
    int auth_failures = 0;
    std::optional<SaslServer> sasl;
    std::string auth_pending_user;  // username of the VerifyAuth in flight

    Transaction txn;
    DataReader reader;
    // BDAT chunk in progress.
    std::uint64_t chunk_left = 0;
    bool chunk_last = false;
    std::uint64_t chunk_size = 0;
    LineEndNormalizer bdat_lines;  // across the chunks of one message
    // A message being received but no longer stored: the rest of the data
    // is read and dropped, then `drop_reply` answers it.
    bool dropping = false;
    std::optional<Reply> drop_reply;
    bool begin_for_bdat = false;  // the BeginMessage in flight was for a BDAT

    // --- server_session.cpp ---
    void reply(const Reply& r);
    void count_bad_command();
    void close_with(const Reply& r);
    void set_pending(Action a);
    bool step();  // false: nothing more can be done without input
    bool step_command();
    bool step_skip();
    void handle_line(std::string_view line);
    void reset_transaction();
    void abort_if_begun(action::AbortReason reason);
    void reset_session_for_tls();
    void release_idle_buffers();

    // --- server_verbs.cpp ---
    void dispatch(Command& cmd);
    void sasl_line(std::string_view line);
    std::string protocol_name() const;
    bool mail_allowed_without_auth() const;

    // --- server_message.cpp ---
    void start_data();
    void start_bdat(const BdatParams& bdat, std::optional<Reply> refuse);
    bool step_data();
    bool step_bdat();
    void add_bdat_output();
    void end_of_message();
    void chunk_complete();
    void drop_message(action::AbortReason reason, Reply final_reply);
    Envelope envelope_for_begin() const;
};

}  // namespace rp::protocol
