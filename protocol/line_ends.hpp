// Line-end normaliser for BDAT content (RFC 3030 chunks are raw octets, so
// nothing like DATA's reader sees them): a bare CR and a bare LF each become
// CRLF, CRLF stays CRLF. The stored and relayed message then never carries
// a bare CR or LF that some other MTA could read as a line end (SMTP
// smuggling). DATA content gets the same for bare LF from DataReader.
//
// Invariants: the output is the same for any split of the input into feed()
// calls (a CR at the end of one call waits for the next byte); finish()
// ends the content (a trailing CR becomes CRLF). State is one flag.
// Pure; used by ServerSession (server_message.cpp) and tests/protocol.
#pragma once

#include <string>
#include <string_view>

namespace rp::protocol {

class LineEndNormalizer {
  public:
    // Appends the normalised form of `in` to `out`.
    void feed(std::string_view in, std::string& out);
    // End of content: a pending CR is written as CRLF.
    void finish(std::string& out);
    bool pending_cr() const { return pending_cr_; }
    void reset() { pending_cr_ = false; }

  private:
    bool pending_cr_ = false;
};

}  // namespace rp::protocol
