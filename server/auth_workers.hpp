// A small pool of threads for password verification: hashing is deliberately
// slow (tens of ms per attempt), so it never runs on the event loop.
//
// submit() may be called from any thread; `done` runs ON A WORKER THREAD and
// must post back to the caller's executor. The password copy is wiped after
// use. The queue is bounded (max_queued checks waiting, not counting those
// running): a flood of AUTH attempts is refused at once instead of delaying
// every real login behind it. The destructor finishes queued work and joins.
// Used by server/ only.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rp::server {

class AuthWorkers {
  public:
    static constexpr std::size_t kDefaultMaxQueued = 32;

    explicit AuthWorkers(unsigned threads = 2, std::size_t max_queued = kDefaultMaxQueued);
    ~AuthWorkers();
    AuthWorkers(const AuthWorkers&) = delete;
    AuthWorkers& operator=(const AuthWorkers&) = delete;

    // Verifies `password` against `hash` (an empty hash always fails, after
    // the same work as a real one so unknown users take as long as known).
    // False when max_queued checks are already waiting: then `done` is never
    // called and the password is wiped here.
    [[nodiscard]] bool submit(std::string password, std::string hash, std::function<void(bool)> done);

  private:
    struct Job {
        std::string password;
        std::string hash;
        std::function<void(bool)> done;
    };
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> jobs_;
    std::size_t max_queued_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace rp::server
