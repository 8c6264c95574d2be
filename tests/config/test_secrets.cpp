// Secret fields: the inline, _file and _env forms, exactly one of them,
// relative _file paths against the config directory, trailing newlines
// stripped, and no error message ever containing a secret value.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"

namespace fs = std::filesystem;
using namespace rp::config;

namespace {

const std::string hash = "$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3";
const std::string head =
    "tls: {self_signed: true}\nusers: [{username: app, password_hash: '" + hash + "'}]\n";

// A temporary directory removed at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "rp-config-XXXXXX").string();
        REQUIRE(mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& name, const std::string& content) const {
        std::ofstream(path / name, std::ios::binary) << content;
    }
};

std::string account(const std::string& secret_lines) {
    return head + "pool:\n  accounts:\n    - username: a@example.com\n" + secret_lines;
}

// The error text of loading `yaml`, or "" when it loads.
std::string error_of(const std::string& yaml, const std::string& base_dir = ".") {
    try {
        load_string(yaml, "t.yaml", base_dir);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("each secret form yields the secret; newlines at the end are stripped") {
    TempDir dir;
    dir.write("pw", "from-file\r\n\n");
    dir.write("hash", hash + "\n");
    setenv("RP_TEST_SECRET_ENV", "from-env\n", 1);
    struct Row {
        std::string lines;
        std::string expected;
    };
    const Row rows[] = {
        {"      password: inline-pw\n", "inline-pw"},
        {"      password_file: pw\n", "from-file"},  // relative to base_dir
        {"      password_file: " + (dir.path / "pw").string() + "\n", "from-file"},
        {"      password_env: RP_TEST_SECRET_ENV\n", "from-env"},
        {"      password: \"\"\n      password_env: RP_TEST_SECRET_ENV\n", "from-env"},  // "" = not set
    };
    for (const auto& r : rows) {
        CAPTURE(r.lines);
        Config c = load_string(account(r.lines), "t.yaml", dir.path.string());
        CHECK(c.pool.accounts.at(0).password == r.expected);
    }
    Config c = load_string(
        "tls: {self_signed: true}\nusers: [{username: app, password_hash_file: hash}]\n"
        "pool: {accounts: [{username: a@example.com, password: x}]}\nadmin: {token_env: "
        "RP_TEST_SECRET_ENV}\n",
        "t.yaml", dir.path.string());
    CHECK(c.users.at(0).password_hash == hash);
    CHECK(c.admin.token == "from-env");
    CHECK(c.admin.token_file.empty());
    unsetenv("RP_TEST_SECRET_ENV");
}

TEST_CASE("secret errors point at the form used and name the path or variable") {
    TempDir dir;
    unsetenv("RP_TEST_NOT_SET");
    struct Row {
        std::string lines;
        std::string expected;
    };
    const Row rows[] = {
        {"      password_file: missing\n", "t.yaml:6:22: pool.accounts[0].password_file: cannot read \"" +
                                               (dir.path / "missing").string() +
                                               "\": No such file or directory"},
        {"      password_env: RP_TEST_NOT_SET\n",
         "t.yaml:6:21: pool.accounts[0].password_env: environment variable \"RP_TEST_NOT_SET\" is not set"},
        {"      password_file: .\n", "t.yaml:6:22: pool.accounts[0].password_file: cannot read \"" +
                                         dir.path.string() + "/.\": not a regular file"},
        {"      password_env: HOME\n      password_file: x\n",
         "t.yaml:7:7: pool.accounts[0].password_file: give only one of pool.accounts[0].password, "
         "pool.accounts[0].password_file or pool.accounts[0].password_env (also set: "
         "pool.accounts[0].password_env)"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.lines);
        CHECK(error_of(account(r.lines), dir.path.string()) == r.expected);
    }
}

TEST_CASE("no error message contains a secret value") {
    const std::string secret = "S3cr3t-Value-42";
    TempDir dir;
    dir.write("pw", secret + "\n");
    dir.write("empty", "\n");
    setenv("RP_TEST_SECRET_ENV", secret.c_str(), 1);
    const std::string rows[] = {
        account("      password: " + secret + "\n      password_env: RP_TEST_SECRET_ENV\n"),
        account("      password: [" + secret + "]\n"),
        account("      password_env: \"" + secret + " !\"\n"),  // the secret in the wrong form
        account("      password: {x: " + secret + "}\n"),
        account("      password_file: pw\n      daily_limit: 0\n"),
        account("      password: " + secret + "\n      oauth2: {service_account_file: pw}\n"),
        account("      password: " + secret + "\n      password_file: empty\n"),
        "tls: {self_signed: true}\nusers: [{username: app, password_hash: " + secret +
            "}]\npool: {accounts: [{username: a@example.com, password: x}]}\n",
        "tls: {self_signed: true}\nusers: [{username: app, password_hash_env: RP_TEST_SECRET_ENV}]\n",
        head + "pool: {accounts: [{username: a@example.com, password: x}]}\nadmin: {token: " + secret +
            ", token_file: pw}\n",
    };
    for (const auto& yaml : rows) {
        CAPTURE(yaml);
        std::string error = error_of(yaml, dir.path.string());
        CHECK(!error.empty());
        CHECK(error.find(secret) == std::string::npos);
    }
    unsetenv("RP_TEST_SECRET_ENV");
}
