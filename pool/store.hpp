// Where the pool's state lives between runs: one interface, a file backend
// (pool/file_store.*: the embedded pool.state) and an in-memory twin
// (pool/memory_store.hpp) for tests. The content is the text format of
// pool/state_file.hpp; the store only keeps bytes durable.
//
// Contract:
// - load() once at start, before anything else.
// - append(lines, done): the lines are durable (written and fdatasync'd)
//   when done(no error) runs. Appends are applied in call order; concurrent
//   appends may share one fsync (that is the batching). A failed append
//   leaves the stored state as it was before it (no torn line in the middle).
// - replace(snapshot, done): atomically replaces the whole state (compaction).
//   Appends after it go after the snapshot.
// - done runs exactly once, on a store thread (or inline in the memory
//   twin): post back to your own executor.
// Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <system_error>

#include "common/clock.hpp"

namespace rp::pool {

class Store {
  public:
    using Done = std::function<void(std::error_code)>;
    struct Loaded {
        std::string text;       // empty for a new store
        WallTime last_write{};  // the file's modification time
    };
    virtual ~Store() = default;
    virtual std::error_code load(Loaded& out) = 0;
    virtual void append(std::string lines, Done done) = 0;
    virtual void replace(std::string snapshot, Done done) = 0;
    // Moves an unreadable state out of the way (kept for an operator);
    // returns where it went.
    virtual std::error_code set_aside(std::string& moved_to) = 0;
    virtual std::string describe() const = 0;  // for logs and readiness
};

}  // namespace rp::pool
