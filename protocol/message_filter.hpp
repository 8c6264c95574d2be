// Streaming transforms applied to a stored message on its way upstream:
// - MessageFilter: strip_headers and sender_rewrite=envelope+header, applied to
//   the header block only (everything up to and including the first empty
//   line); body bytes pass through untouched. Lines end at CRLF, LF or a bare
//   CR: the lines the upstream sees after the DotStuffer, so a field glued
//   to the previous one by a bare CR is still stripped / rewritten.
// - DotStuffer: SMTP DATA transparency (RFC 5321 4.5.2) plus the final
//   CRLF.CRLF, correct across arbitrary chunk boundaries. Its output has
//   CRLF line ends only: a bare CR or bare LF in the stored message is sent
//   as CRLF (RFC 5321 2.3.8: a client MUST NOT transmit CR or LF except as
//   CRLF), and a '.' after it is stuffed. So no upstream, however lenient
//   about line ends, can find an end of data (or a command) inside the
//   message: "\r.\r\n", "\n.\r\n", "\r\n.\r" all go out as "\r\n..\r\n"
//   (SMTP smuggling toward the upstream; docs/delivery.md "Line ends").
//   Only messages that already break RFC 5322 2.3 (CR and LF only as CRLF)
//   change; BDAT delivery is length-delimited and sends the bytes unchanged.
//
// Invariants: both take input in arbitrary pieces and produce the same output
// as if the message had been given in one piece. Bytes are never re-encoded:
// 8-bit, UTF-8, CRLF and long lines pass as they are (the DotStuffer's only
// changes: stuffed dots, bare CR/LF sent as CRLF). The header block is
// buffered (bounded by max_header_bytes; beyond that the filter gives up and
// passes the message unchanged, which is safe: it only fails to strip).
// Pure: used by ClientSession (and relay/ sandbox transport, which writes
// .eml files with the same headers the upstream would see).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rp::protocol {

struct MessageFilterOptions {
    std::vector<std::string> strip_headers;  // field names, case-insensitive ("Received")
    // sender_rewrite=envelope+header: From: becomes this address (keeping the
    // display name), and the original From value goes to a new Reply-To:
    // when the message has none. Empty = do not touch From.
    std::string rewrite_from_to;
    std::size_t max_header_bytes = 1024 * 1024;
};

class MessageFilter {
  public:
    explicit MessageFilter(MessageFilterOptions options);

    // Appends the filtered form of `bytes` to `out`.
    void feed(std::string_view bytes, std::string& out);
    // End of message: flushes a header block that had no empty line after it.
    void finish(std::string& out);

    // True when no option would change anything (the filter is a copy).
    bool passthrough() const;

  private:
    void flush_headers(std::string& out);

    MessageFilterOptions options_;
    std::string header_;  // the buffered header block
    bool in_body_ = false;
};

// Filters a whole message at once (tests, sandbox transport).
std::string filter_message(std::string_view message, const MessageFilterOptions& options);

class DotStuffer {
  public:
    // Appends `bytes` with a '.' doubled at the start of every line, bare CR
    // and bare LF written as CRLF. A CR at the end of `bytes` is held back
    // until the next byte shows whether it is part of a CRLF.
    void feed(std::string_view bytes, std::string& out);
    // Appends the end-of-data marker: "\r\n.\r\n" when the message did not end
    // with a line end (so the last line is kept), else ".\r\n".
    void finish(std::string& out);

  private:
    void line_end(std::string& out);

    bool at_line_start_ = true;  // the output so far ends with CRLF (or is empty)
    bool pending_cr_ = false;    // the input ended with a CR not yet written
};

// Dot-stuffs a whole message including the terminator (tests).
std::string dot_stuff(std::string_view message);

}  // namespace rp::protocol
