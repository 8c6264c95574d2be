// A real full disk: the spool on a 256 KiB tmpfs (mounted here; needs root
// or CAP_SYS_ADMIN, otherwise the test says so and skips: the same paths are
// covered by the fault-injection tests in spool_file_test.cpp).
// Checks: append() fails and commit reports ENOSPC (no message, no 250);
// a state write on a full disk fails and the previous state stays durable;
// after space returns everything works and nothing accepted was lost.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spool_test_util.hpp"

using namespace rp::spool;
using namespace spool_test;

namespace {

struct SmallTmpfs {
    TempDir dir;
    bool mounted = false;
    std::string error;
    SmallTmpfs() {
        if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=256k,mode=0700") == 0)
            mounted = true;
        else
            error = std::strerror(errno);
    }
    ~SmallTmpfs() {
        if (mounted) ::umount2(dir.path.c_str(), MNT_DETACH);
    }
};

// Writes a file until the filesystem is full; returns the bytes written.
std::size_t fill(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    std::string chunk(4096, 'f');
    std::size_t total = 0;
    for (;;) {
        ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return total;
}

DeliveryState with_attempts(std::uint32_t n) {
    auto s = DeliveryState::fresh(1);
    s.state = MessageState::deferred;
    s.attempts = n;
    return s;
}

}  // namespace

TEST_CASE("full disk (tmpfs): failed intake and state writes lose nothing") {
    SmallTmpfs fs;
    if (!fs.mounted) {
        MESSAGE("tmpfs mount not permitted (" << fs.error << "): ENOSPC covered by fault injection only");
        return;
    }
    const std::string spool_dir = fs.dir / "spool";
    std::string kept;
    {
        auto spool = open_recovered(spool_dir);
        REQUIRE(spool);
        kept = put(*spool, "accepted before the disk filled\r\n");
        REQUIRE(!kept.empty());
        REQUIRE_FALSE(spool->update_state(kept, with_attempts(1)));

        // A message bigger than the disk: append fails, commit reports it.
        auto w = spool->begin(envelope());
        REQUIRE(w);
        const std::string chunk(64 * 1024, 'm');
        bool ok = true;
        for (int i = 0; i < 16 && ok; ++i) ok = w->append(chunk);
        CHECK_FALSE(ok);
        auto r = commit_sync(*w);
        CHECK(r.error == std::error_code(ENOSPC, std::system_category()));
        CHECK(r.id.empty());
        CHECK(spool->list() == std::vector<std::string>{kept});
        CHECK(count_entries(spool_dir + "/tmp") == 0);

        // Now fill the disk completely: state writes and new messages fail.
        CHECK(fill(fs.dir / "filler") > 0);
        CHECK(spool->update_state(kept, with_attempts(2)) == std::error_code(ENOSPC, std::system_category()));
        CHECK(update_async_sync(*spool, kept, with_attempts(3)) ==
              std::error_code(ENOSPC, std::system_category()));
        CHECK(spool->stats().state_write_errors == 2);
        CHECK(spool->load(kept).value.state.attempts == 1);
        auto w2 = spool->begin(envelope());
        if (w2) {  // the header may fit in a partly used page; the body cannot
            CHECK_FALSE(w2->append(std::string(8192, 'x')));
            CHECK(commit_sync(*w2).error);
        }
        CHECK(spool->list() == std::vector<std::string>{kept});

        // Space comes back: the same spool works again.
        ::unlink((fs.dir / "filler").c_str());
        CHECK_FALSE(spool->update_state(kept, with_attempts(4)));
        CHECK(!put(*spool, "after").empty());
    }
    RecoveryReport rep;
    auto spool = open_recovered(spool_dir, {}, &rep);
    REQUIRE(spool);
    CHECK(rep.messages.size() == 2);
    CHECK(rep.quarantined == 0);
    CHECK(spool->load(kept).value.state.attempts == 4);
}
