// BackgroundWorker: one thread that runs blocking spool work off the event
// loop, in submission order. FileSpool keeps two: one for the delivery
// engine (envelope loads, unlinks, the quarantine directory's fsync) and one
// for the admin API's reads (queue show, a listing page's envelopes), so a
// listing read from a cold disk never delays a delivery. Both are separate
// from the commit workers: neither ever delays a commit (a 250).
//
// Invariants: every posted job runs exactly once; stop() (and the
// destructor) runs the jobs still queued, then joins; a job posted after
// stop() runs inline on the caller's thread (only during shutdown). Jobs
// must not post() and then wait for another job (one thread).
// Used by FileSpool only.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace rp::spool {

class BackgroundWorker {
  public:
    BackgroundWorker();
    ~BackgroundWorker();
    BackgroundWorker(const BackgroundWorker&) = delete;
    BackgroundWorker& operator=(const BackgroundWorker&) = delete;

    void post(std::function<void()> job);
    void stop();

  private:
    void run();

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts after the members above exist
};

}  // namespace rp::spool
