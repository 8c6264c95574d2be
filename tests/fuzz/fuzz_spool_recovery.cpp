// Fuzzes spool recovery end to end (FileSpool::open + recover() + load()):
// whatever a crash, a full disk or a hostile edit left in the queue directory.
// The input is a set of files, each introduced by a line "==> DIR/NAME <==",
// DIR one of tmp, queue, quarantine (NAME: up to 40 of [A-Za-z0-9._-]); each
// file's END checksum is made right (spool_checksum.hpp) so the records
// behind it are reached. They are written to a fresh directory (tmpfs when
// /dev/shm exists) and recovered twice. Properties, besides no crash:
// - nothing accepted is lost: every queue/ message file is listed, or its
//   bytes are in quarantine/; files already in quarantine/ stay as they were;
// - tmp/ is empty; queue/ holds only listed messages and their state files;
// - every listed message loads;
// - a second recovery lists the same messages, quarantines and removes
//   nothing more, and loads the same envelopes and states.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.hpp"
#include "spool/file_spool.hpp"
#include "spool/spool_format.hpp"
#include "spool_checksum.hpp"

using namespace rp::spool;
namespace fs = std::filesystem;

static void require(bool ok) {
    if (!ok) std::abort();
}

using Files = std::map<std::string, std::string>;  // "queue/NAME" -> bytes

// Splits the input at its "==> DIR/NAME <==" lines (text before the first is
// ignored; a later file of the same name replaces the earlier).
static Files parse_files(std::string_view in) {
    Files files;
    constexpr std::string_view open = "==> ", close = " <==\n";
    std::size_t at = in.starts_with(open) ? 0 : in.find("\n==> ");
    while (at != std::string_view::npos) {
        const std::size_t name_at = at + (in[at] == '\n' ? 1 : 0) + open.size();
        const std::size_t name_end = in.find(close, name_at);
        if (name_end == std::string_view::npos) break;
        const std::string_view path = in.substr(name_at, name_end - name_at);
        const std::size_t body_at = name_end + close.size();
        at = in.find("\n==> ", body_at);
        const std::string_view body = in.substr(body_at, at == std::string_view::npos ? at : at - body_at);
        const std::size_t slash = path.find('/');
        const std::string_view dir = path.substr(0, slash), name = path.substr(slash + 1);
        if (slash == std::string_view::npos || (dir != "tmp" && dir != "queue" && dir != "quarantine"))
            continue;
        if (name.empty() || name.size() > 40 || name == "." || name == "..") continue;
        if (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            std::string_view::npos)
            continue;
        files[std::string(path)] = with_checksum(body);
    }
    return files;
}

static std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

static std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
    return out;
}

struct Recovered {
    std::vector<std::string> ids;
    std::vector<std::string> loaded;  // per id: envelope header + state, encoded
    RecoveryReport report;
};

static Recovered recover(const std::string& root) {
    FileSpoolOptions options;
    options.directory = root;
    options.commit_workers = 1;
    auto opened = FileSpool::open(options);
    require(bool(opened));
    auto report = opened.value->recover();
    require(bool(report));
    Recovered r;
    for (const auto& m : report.value.messages) {
        r.ids.push_back(m.id);
        auto q = opened.value->load(m.id);
        require(bool(q));  // no OS error on a healthy disk: every listed message loads
        r.loaded.push_back(format::encode_message_header(m.id, q.value.envelope).bytes +
                           format::encode_state(q.value.state));
    }
    r.report = std::move(report.value);
    return r;
}

// A directory of this process's own, removed at exit.
static const std::string& scratch_root() {
    struct Scratch {
        std::string path;
        Scratch() {
            const fs::path base = fs::is_directory("/dev/shm") ? "/dev/shm" : fs::temp_directory_path();
            path = (base / "rp-fuzz-spool-XXXXXX").string();
            require(::mkdtemp(path.data()) != nullptr);
        }
        ~Scratch() {
            std::error_code ignored;
            fs::remove_all(path, ignored);
        }
    };
    static const Scratch scratch;
    return scratch.path;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rp::log::configure(rp::log::Level::error, rp::log::Format::text);
    const Files files = parse_files(std::string_view(reinterpret_cast<const char*>(data), size));
    const std::string root = scratch_root() + "/q";
    fs::remove_all(root);
    for (const char* d : {"tmp", "queue", "quarantine"}) fs::create_directories(root + "/" + d);
    for (const auto& [path, bytes] : files) std::ofstream(root + "/" + path, std::ios::binary) << bytes;

    const Recovered first = recover(root);
    require(names_in(root + "/tmp").empty());
    std::map<std::string, std::string> quarantine;  // name -> bytes, after recovery
    for (const auto& n : names_in(root + "/quarantine")) quarantine[n] = read_file(root + "/quarantine/" + n);
    auto in_quarantine = [&](const std::string& bytes) {
        for (const auto& [n, b] : quarantine)
            if (b == bytes) return true;
        return false;
    };
    for (const auto& [path, bytes] : files) {
        const std::string name = path.substr(path.find('/') + 1);
        if (path.starts_with("quarantine/")) {
            require(quarantine.contains(name) && quarantine[name] == bytes);
        } else if (path.starts_with("queue/") && format::valid_id(name)) {
            const bool listed = std::find(first.ids.begin(), first.ids.end(), name) != first.ids.end();
            require(listed || in_quarantine(bytes));
        }
    }
    for (const auto& n : names_in(root + "/queue")) {
        const std::string id = n.ends_with(".state") ? n.substr(0, n.size() - 6) : n;
        require(std::find(first.ids.begin(), first.ids.end(), id) != first.ids.end());
    }

    const Recovered second = recover(root);
    require(second.ids == first.ids && second.loaded == first.loaded);
    require(second.report.quarantined == 0 && second.report.tmp_removed == 0 &&
            second.report.orphan_states_removed == 0);
    return 0;
}
