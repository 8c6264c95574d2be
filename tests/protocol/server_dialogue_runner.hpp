// Replays a dialogue script against a ServerSession (no I/O). Shared by the
// dialogue-file test and the session unit tests.
//
// Script lines (one directive each; '#' starts a comment line):
//   O: key=value ...   session options: tls=starttls|implicit|none,
//                      require_auth=0|1, trusted=0|1, max_size=N,
//                      max_rcpt=N, max_errors=N, max_auth_failures=N
//   C: text            the client sends text + CRLF
//   R: text            the client sends text as is (no CRLF added)
//   S: pattern         the next reply line equals pattern, or starts with it
//                      when the pattern ends in '*'
//   A: starttls        the session asks for the TLS handshake (answered: done)
//   A: auth MECH USER PASS ok|fail
//   A: begin [fail] [from=X] [rcpt=X;Y] [proto=P] [auth=U] [utf8=0|1]
//            [body=7BIT|8BITMIME] [ret=R] [envid=E] [notify=N1;N2] [orcpt=O1;O2]
//            [helo=H] [size=N] [tls=0|1] [client=ADDR]
//   A: message TEXT    MessageData actions up to the next other action,
//                      concatenated, equal TEXT
//   A: write-fail      the next action is MessageData; the spool write fails
//   A: commit ID | A: commit-fail
//   A: abort too_big|write_failed|cancelled
//   A: close | A: idle (NeedMore)
// Text escapes: \r \n \t \\ \xHH, and {{N*c}} repeats character c N times.
// At the end every reply must have been matched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rp::test {

struct DialogueFailure {
    int line = 0;
    std::string message;
};

// Runs `script`; returns the failures (empty when the dialogue passed).
std::vector<DialogueFailure> run_dialogue(std::string_view script);

std::string unescape(std::string_view text);

}  // namespace rp::test
