"""The relaypool command line as a real process: exit codes (0 ok, 1 runtime
failure, 2 usage or configuration error, 3 admin API unreachable),
check-config output, and the hash-password round trip verified by an
independent crypt(3) implementation.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
"""
import os
import re
import subprocess
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # deprecated in 3.11 but present; an independent libcrypt caller

BIN = os.environ.get("RELAYPOOL_BIN", "relaypool")
SRC = os.environ.get("RP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def run(*args, stdin="", cwd=None):
    return subprocess.run([BIN, *args], input=stdin.encode(), capture_output=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize("example", ["relaypool.yaml", "sandbox.yaml"])
def test_check_config_accepts_the_examples(example):
    path = os.path.join(SRC, "examples", example)
    r = run("check-config", "--config", path)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == f"{path}: ok\n"
    assert r.stderr == b""


@pytest.mark.parametrize("args", [
    ["--config", "{path}", "check-config"],
    ["check-config", "--config={path}"],
    ["check-config", "-c", "{path}"],
])
def test_options_may_stand_before_or_after_the_command(args):
    path = os.path.join(SRC, "examples", "relaypool.yaml")
    r = run(*[a.format(path=path) for a in args])
    assert r.returncode == 0, r.stderr.decode()


def test_misspelled_key_exits_2_pointing_at_the_line(tmp_path):
    text = open(os.path.join(SRC, "examples", "sandbox.yaml")).read()
    assert '    address: "127.0.0.1:2465"\n' in text
    bad = text.replace('    address: "127.0.0.1:2465"\n', '    adress: "127.0.0.1:2465"\n')
    line = bad[: bad.index("    adress:")].count("\n") + 1
    path = tmp_path / "bad.yaml"
    path.write_text(bad)
    for command in (["check-config"], ["serve"], []):
        r = run(*command, "--config", str(path))
        assert r.returncode == 2, command
        assert r.stdout == b""
        assert r.stderr.decode() == (
            f'{path}:{line}:5: unknown key "listeners[1].adress" (did you mean "address"?)\n')


def test_missing_config_file_exits_2(tmp_path):
    path = tmp_path / "absent.yaml"
    r = run("check-config", "--config", str(path))
    assert r.returncode == 2
    assert r.stderr.decode().startswith(f"{path}:0:0: cannot read the configuration")


def verify(password, hashed):
    return crypt.crypt(password, hashed) == hashed


@pytest.mark.parametrize("stdin,password", [
    ("correct horse battery staple\n", "correct horse battery staple"),
    ("with-crlf\r\n", "with-crlf"),
    ("no-newline", "no-newline"),
    ("ünïcødé pass\n", "ünïcødé pass"),
])
def test_hash_password_round_trip(stdin, password):
    r = run("hash-password", stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    hashed = r.stdout.decode().strip()
    assert re.fullmatch(r"\$y\$[./0-9A-Za-z]+\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{43}", hashed)
    assert verify(password, hashed)
    assert not verify(password + "x", hashed)
    assert not verify("", hashed)


def test_hash_password_uses_a_fresh_salt():
    a = run("hash-password", stdin="same\n").stdout
    b = run("hash-password", stdin="same\n").stdout
    assert a != b


def test_a_hashed_password_is_accepted_by_check_config(tmp_path):
    hashed = run("hash-password", stdin="s3cret\n").stdout.decode().strip()
    text = open(os.path.join(SRC, "examples", "sandbox.yaml")).read()
    text = re.sub(r'password_hash: "[^"]*"', f'password_hash: "{hashed}"', text)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert run("check-config", "--config", str(path)).returncode == 0


@pytest.mark.parametrize("stdin", ["", "\n", "\r\n"])
def test_hash_password_refuses_an_empty_password(stdin):
    r = run("hash-password", stdin=stdin)
    assert r.returncode == 2
    assert r.stdout == b""
    assert b"empty password" in r.stderr


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert re.fullmatch(r"relaypool \d+\.\d+\.\d+\n", r.stdout.decode())


def test_help():
    r = run("--help")
    assert r.returncode == 0
    out = r.stdout.decode()
    for word in ("check-config", "hash-password", "queue list", "pool status", "--config", "--version"):
        assert word in out


@pytest.mark.parametrize("args,message", [
    (["frobnicate"], 'unknown command "frobnicate"'),
    (["--frobnicate"], 'unknown option "--frobnicate"'),
    (["check-config", "extra"], 'unexpected argument "extra" after check-config'),
    (["check-config", "--config"], "option --config needs a value"),
    (["queue"], "usage: relaypool queue"),
    (["queue", "show"], "usage: relaypool queue"),
    (["pool", "pause"], "usage: relaypool pool"),
])
def test_usage_errors_exit_2_with_usage_on_stderr(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert r.stdout == b""
    err = r.stderr.decode()
    assert message in err
    if not message.startswith("usage:"):
        assert "usage:" in err


def closed_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args", [["queue", "list"], ["queue", "retry", "--all"], ["pool", "status"],
                                  ["pool", "resume", "reminders01@agency.example"]])
def test_admin_commands_without_a_server_exit_3(args):
    # The full admin command behaviour is in test_admin.py; here only that
    # they parse and report an unreachable server (exit 3), naming the URL.
    url = f"http://127.0.0.1:{closed_port()}"
    r = run(*args, "--admin", url)
    assert r.returncode == 3, r.stderr.decode()
    assert r.stdout == b""
    assert f"cannot reach the admin API at {url}".encode() in r.stderr


@pytest.mark.parametrize("url", ["https://127.0.0.1:9090", "127.0.0.1:9090", "http://h:99999"])
def test_admin_commands_refuse_a_bad_admin_url_with_exit_2(url):
    r = run("queue", "list", "--admin", url)
    assert r.returncode == 2
    assert f'--admin "{url}"'.encode() in r.stderr
