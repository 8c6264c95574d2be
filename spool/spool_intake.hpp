// The one seam between the submission server and the relay: the server hands
// each message to the spool through begin -> append* -> commit | abort, and
// never calls the relay in any other way (data flows one way).
//
// Contract:
// - begin() is called once the envelope is known (at DATA / first BDAT).
// - append() receives message bytes exactly as they are to be stored: the
//   Received: header the server prepends, then the client's data with
//   dot-stuffing already undone, CRLF line ends. It may be called from the
//   event loop: it only writes to the page cache (no fsync).
// - commit() makes the message durable (file fsync, rename into the queue,
//   directory fsync; concurrent commits may share one fsync) and then calls
//   `done` exactly once, ON A SPOOL THREAD: the caller posts back to its own
//   executor. `done(error, id)`: error empty and id set means the message is
//   durable and the server may answer 250; otherwise the server answers 451
//   and the message does not exist.
// - abort() (or destroying an uncommitted writer) removes the partial file.
// - Implementations: FileSpool (spool/file_spool.hpp) and an in-memory twin
//   for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace rp::spool {

struct RecipientSpec {
    std::string address;  // without angle brackets
    std::string notify;   // DSN NOTIFY= as given ("" when absent)
    std::string orcpt;    // DSN ORCPT= as given ("" when absent)
};

struct EnvelopeSpec {
    std::string mail_from;  // "" for the null sender <>
    std::vector<RecipientSpec> recipients;
    std::string ret;    // DSN RET= (FULL | HDRS | "")
    std::string envid;  // DSN ENVID= ("" when absent)
    bool smtputf8 = false;
    bool body_8bitmime = false;
    std::string listener;     // listener name
    std::string client_addr;  // after PROXY protocol
    std::string helo;
    std::string auth_user;  // "" when relayed from a trusted network
};

class SpoolWriter {
  public:
    virtual ~SpoolWriter() = default;
    // Appends bytes; false on an I/O error (disk full): the server then reads
    // the rest of the DATA, answers 452/451 and aborts.
    virtual bool append(std::string_view bytes) = 0;
    virtual std::uint64_t size() const = 0;
    virtual void commit(std::function<void(std::error_code, std::string id)> done) = 0;
    virtual void abort() = 0;
};

class SpoolIntake {
  public:
    virtual ~SpoolIntake() = default;
    // nullptr when the spool cannot take a message now (disk error); the
    // server answers 451 4.3.0.
    virtual std::unique_ptr<SpoolWriter> begin(const EnvelopeSpec& envelope) = 0;
    // True while the queue's filesystem has less free space than the
    // configured reserve: new transactions are refused at MAIL (452 4.3.1)
    // and queued mail keeps going out. Cheap (cached): called per command
    // batch from the event loop. Thread-safe.
    virtual bool storage_low() { return false; }
};

}  // namespace rp::spool
