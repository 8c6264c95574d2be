"""scripts/run-sandbox.sh, the README's first command: one line per step, the
compiler quiet unless it fails, port overrides from the environment, and a
relay that serves on them.

The script reuses the build tree of the binary under test (BUILD_DIR = the
directory of RELAYPOOL_BIN, already configured and built), so no second
compile happens here; the failure path uses a tree whose cache is broken.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
"""

import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

import pytest

import harness

SCRIPT = os.path.join(harness.SOURCE_DIR, "scripts", "run-sandbox.sh")
BUILD_DIR = os.path.dirname(os.path.abspath(harness.BIN))

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(BUILD_DIR, "CMakeCache.txt")),
                                reason="RELAYPOOL_BIN is not in a CMake build tree")


def read_until(proc, pattern, timeout=120):
    """Lines of stdout up to and including the first matching `pattern`."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"never printed {pattern!r}; got:\n" + "\n".join(lines))


def test_steps_ports_and_serving(tmp_path):
    ports = {"SUBMISSION_PORT": harness.free_port(), "SMTPS_PORT": harness.free_port(),
             "METRICS_PORT": harness.free_port()}
    data_dir = tmp_path / "data"
    env = dict(os.environ, BUILD_DIR=BUILD_DIR, JOBS="1", DATA_DIR=str(data_dir),
               **{k: str(v) for k, v in ports.items()})
    proc = subprocess.Popen([SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = read_until(proc, r"relaypool started")
        steps = [line for line in lines if line.startswith("run-sandbox: ")]
        assert steps[0] == f"run-sandbox: reusing the configured build tree {BUILD_DIR}"
        assert steps[1].startswith(f"run-sandbox: building {BUILD_DIR}/relaypool (about 4 min the first time")
        assert re.fullmatch(r"run-sandbox: built in \d+ s", steps[2])
        assert steps[3] == (f"run-sandbox: serving on 127.0.0.1:{ports['SUBMISSION_PORT']} (STARTTLS), "
                            f"127.0.0.1:{ports['SMTPS_PORT']} (TLS), metrics "
                            f"http://127.0.0.1:{ports['METRICS_PORT']}; Ctrl-C stops")
        assert len(steps) == 4  # build packages already there: nothing installed, no sudo
        # Nothing from the compiler or cmake between the steps.
        first_step = lines.index(steps[0])
        assert lines[first_step:lines.index(steps[3]) + 1] == steps
        # The relay's own banner follows, on the overridden ports.
        text = "\n".join(lines)
        ca = str(data_dir / "tls" / "ca.pem")
        assert f"CA          {ca}" in text
        c = smtplib.SMTP("127.0.0.1", ports["SUBMISSION_PORT"], timeout=30)
        c.starttls(context=ssl.create_default_context(cafile=ca))
        c.login("demo", "demo-password")
        c.sendmail("app@example.com", ["someone@example.net"], b"Subject: run-sandbox\r\n\r\nhi\r\n")
        c.quit()
        deadline = time.monotonic() + 20
        while not any(n.endswith(".eml") for n in os.listdir(data_dir / "mail")):
            assert time.monotonic() < deadline, "no .eml written"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)  # the script exec'd relaypool: same process
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == 0


def test_a_failed_build_prints_its_log(tmp_path):
    broken = tmp_path / "broken-build"
    broken.mkdir()
    (broken / "CMakeCache.txt").write_text("this is not a CMake cache\n")
    env = dict(os.environ, BUILD_DIR=str(broken))
    r = subprocess.run([SCRIPT], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1
    log = str(broken / "run-sandbox-build.log")
    assert f"run-sandbox: the build failed; the last lines follow, the full log is {log}" in r.stdout
    assert os.path.getsize(log) > 0
    assert "run-sandbox: serving" not in r.stdout
