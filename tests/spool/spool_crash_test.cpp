// kill -9 during intake: a child process commits messages as fast as it can
// (many in flight) and reports each acknowledged id on a pipe from inside
// done(); the parent kills it with SIGKILL mid-stream, then recovers the
// spool. Every acknowledged message must be there with its exact bytes and
// nothing may be quarantined (a process crash keeps the page cache, so this
// checks the protocol's ordering, not the fsyncs; power loss is out of reach
// of a unit test).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

namespace {

std::string body_for(int i) {
    std::string b = "Subject: message " + std::to_string(i) + "\r\n\r\n";
    b.append(static_cast<std::size_t>((i * 7919) % 60000), static_cast<char>('a' + i % 26));
    return b + "\r\n";
}

[[noreturn]] void child(const std::string& dir, int ack_fd) {
    auto spool = open_recovered(dir);
    if (!spool) ::_exit(2);
    std::vector<std::unique_ptr<SpoolWriter>> writers;
    for (int i = 0;; ++i) {
        auto w = spool->begin(envelope());
        if (!w) ::_exit(3);
        const std::string body = body_for(i);
        for (std::size_t off = 0; off < body.size(); off += 4000) w->append(body.substr(off, 4000));
        w->commit([ack_fd, i](std::error_code ec, std::string id) {
            if (ec) return;
            const std::string line = id + " " + std::to_string(i) + "\n";
            (void)!::write(ack_fd, line.data(), line.size());  // < PIPE_BUF: atomic
        });
        writers.push_back(std::move(w));
        if (writers.size() > 32) writers.erase(writers.begin());
    }
}

}  // namespace

TEST_CASE("kill -9 during intake: every acknowledged message survives with its bytes") {
    TempDir t;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        child(t.path, fds[1]);
    }
    ::close(fds[1]);
    std::string acks;
    char buf[4096];
    while (std::count(acks.begin(), acks.end(), '\n') < 300) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        acks.append(buf, static_cast<std::size_t>(n));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) acks.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);

    std::map<std::string, int> acked;
    std::istringstream in(acks);
    std::string id;
    int i = 0;
    while (in >> id >> i) acked[id] = i;
    REQUIRE(acked.size() >= 300);

    RecoveryReport rep;
    auto spool = open_recovered(t.path, {}, &rep);
    REQUIRE(spool);
    CHECK(rep.quarantined == 0);
    CHECK(rep.messages.size() >= acked.size());
    std::size_t checked = 0;
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one
    // in the lambda REQUIRE_MESSAGE expands to.
    for (const auto& ack : acked) {
        const std::string& mid = ack.first;
        const int n = ack.second;
        auto body = spool->read_body(mid, 1 << 20);
        REQUIRE_MESSAGE(body, "acknowledged message lost: " << mid);
        CHECK(body.value == body_for(n));
        ++checked;
    }
    MESSAGE(checked << " acknowledged messages verified; " << rep.messages.size() << " recovered, "
                    << rep.tmp_removed << " unacknowledged tmp files removed");
}
