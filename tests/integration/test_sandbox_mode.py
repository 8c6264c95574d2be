"""`relaypool serve --sandbox`: the configuration built into the binary, with
no file at all (app/sandbox.hpp, README "Quick start").

What must hold: it serves on the ports given on the command line; its
generated CA (DATA_DIR/tls/ca.pem, printed at start) lets clients with
DEFAULT verification connect (Python's ssl.create_default_context(cafile=),
over STARTTLS and implicit TLS); a submitted message lands as .eml under
DATA_DIR/mail; the CA and certificate are reused on the next start; systemd
gets READY=1 once the listeners are up and STOPPING=1 on SIGTERM; SIGHUP
reloads the embedded configuration; `queue show` of a delivered message says
where it went; bad option combinations exit 2.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
"""

import glob
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

import harness

BIN = harness.BIN


class Sandbox:
    """`relaypool serve --sandbox` on free ports, with its output in a file."""

    def __init__(self, tmp_path, notify_socket=None):
        self.data_dir = str(tmp_path / "data")
        self.ports = {"submission": harness.free_port(), "smtps": harness.free_port(),
                      "metrics": harness.free_port()}
        self.log_path = str(tmp_path / "sandbox.log")
        self.notify_socket = notify_socket
        self.proc = None

    def start(self, timeout=30):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if self.notify_socket:
            env["NOTIFY_SOCKET"] = self.notify_socket
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [BIN, "serve", "--sandbox", "--data-dir", self.data_dir,
                 f"--port-submission={self.ports['submission']}", "--port-smtps", str(self.ports["smtps"]),
                 "--port-metrics", str(self.ports["metrics"])],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        for port in self.ports.values():
            while True:
                assert self.proc.poll() is None, f"relaypool exited:\n{self.log()}"
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"no listener on {port}:\n{self.log()}"
                    time.sleep(0.05)
        while "relaypool started" not in self.log():  # the queue is recovered; mail is taken
            assert self.proc.poll() is None, f"relaypool exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"relaypool did not finish starting:\n{self.log()}"
            time.sleep(0.02)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    @property
    def ca(self):
        return os.path.join(self.data_dir, "tls", "ca.pem")


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path).start()
    yield box
    assert box.stop() == 0, box.log()


def send(port, context, implicit=False, subject="sandbox"):
    """One message with default TLS verification; returns the queue id."""
    if implicit:
        c = smtplib.SMTP_SSL("127.0.0.1", port, context=context, timeout=30)
    else:
        c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        if not implicit:
            c.starttls(context=context)
        c.login("demo", "demo-password")
        c.mail("app@example.com")
        assert c.rcpt("someone@example.net")[0] == 250
        code, reply = c.data(f"Subject: {subject}\r\nFrom: app@example.com\r\n\r\nhello\r\n".encode())
        assert code == 250, reply
        return re.search(rb"queued as (\S+)", reply).group(1).decode()
    finally:
        c.quit()


def wait_eml(data_dir, queue_id, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        found = glob.glob(os.path.join(data_dir, "mail", f"{queue_id}*.eml"))
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no .eml for {queue_id} in {data_dir}/mail"
        time.sleep(0.1)


def test_python_default_verification_with_the_printed_ca(sandbox):
    out = sandbox.log()
    # The start banner names the CA file and how to use it.
    assert f"CA          {sandbox.ca}" in out
    assert f'ssl.create_default_context(cafile="{sandbox.ca}")' in out
    assert f"127.0.0.1:{sandbox.ports['submission']} (STARTTLS)" in out
    context = ssl.create_default_context(cafile=sandbox.ca)  # CERT_REQUIRED + hostname check
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    starttls_id = send(sandbox.ports["submission"], context)
    implicit_id = send(sandbox.ports["smtps"], context, implicit=True)
    for qid in (starttls_id, implicit_id):
        with open(wait_eml(sandbox.data_dir, qid), "rb") as f:
            assert b"Subject: sandbox" in f.read()
    # The same works under the name "localhost" (the certificate carries both).
    c = smtplib.SMTP("localhost", sandbox.ports["submission"], timeout=30)
    c.starttls(context=context)
    c.quit()


def test_without_the_ca_default_verification_refuses(sandbox):
    c = smtplib.SMTP("127.0.0.1", sandbox.ports["submission"], timeout=30)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            c.starttls(context=ssl.create_default_context())
    finally:
        c.close()


def test_key_is_private_and_ca_key_is_nowhere(sandbox):
    tls = os.path.join(sandbox.data_dir, "tls")
    assert sorted(os.listdir(tls)) == ["ca.pem", "server.key", "server.pem"]
    assert os.stat(os.path.join(tls, "server.key")).st_mode & 0o777 == 0o600
    assert os.stat(tls).st_mode & 0o777 == 0o700
    with open(sandbox.ca) as f:
        assert "PRIVATE KEY" not in f.read()


def test_certificates_are_reused_on_restart(tmp_path):
    first = Sandbox(tmp_path).start()
    assert first.stop() == 0
    with open(first.ca) as f:
        ca_before = f.read()
    assert "(new: trust it again" in first.log()
    second = Sandbox(tmp_path)
    second.data_dir = first.data_dir
    second.start()
    try:
        with open(second.ca) as f:
            assert f.read() == ca_before
        send(second.ports["submission"], ssl.create_default_context(cafile=second.ca))
    finally:
        assert second.stop() == 0
    assert second.log().count("(new: trust it again") == 1  # only the first start made them


def test_sighup_reloads_the_embedded_configuration(sandbox):
    sandbox.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "configuration reloaded" not in sandbox.log():
        assert time.monotonic() < deadline, sandbox.log()
        time.sleep(0.05)
    send(sandbox.ports["submission"], ssl.create_default_context(cafile=sandbox.ca))


def test_queue_show_of_a_delivered_message_says_where_it_went(sandbox):
    qid = send(sandbox.ports["submission"], ssl.create_default_context(cafile=sandbox.ca))
    wait_eml(sandbox.data_dir, qid)
    admin = f"http://127.0.0.1:{sandbox.ports['metrics']}"
    deadline = time.monotonic() + 10
    while True:  # the .eml is written just before the message leaves the queue
        r = subprocess.run([BIN, "queue", "show", qid, "--admin", admin], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout == ""
    assert f"relaypool: queue show {qid}: no such message in the queue: delivered and bounced messages " \
           f"leave the queue; look for id={qid} in the relay's log" in r.stderr
    assert re.search(rf"id={qid}\b", sandbox.log())  # and the log does have it


def test_systemd_notifications(tmp_path):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(30)
    box = Sandbox(tmp_path, notify_socket=path)
    try:
        box.start()
        assert listener.recv(4096) == b"READY=1"
        # Every listener accepted a connection before READY=1 was read, and
        # READY=1 is sent only after binding them (start() checks the ports).
        box.proc.send_signal(signal.SIGHUP)
        assert listener.recv(4096) == b"RELOADING=1"
        assert listener.recv(4096) == b"READY=1"
        box.proc.send_signal(signal.SIGTERM)
        assert listener.recv(4096) == b"STOPPING=1"
        assert box.proc.wait(30) == 0
    finally:
        box.stop()
        listener.close()


@pytest.mark.parametrize("args, message", [
    (["serve", "--sandbox", "--config", "x.yaml"], "takes no --config"),
    (["check-config", "--sandbox"], "--sandbox only applies to serve"),
    (["serve", "--port-smtps", "2000"], "--port-smtps only applies to serve --sandbox"),
    (["serve", "--sandbox", "--port-smtps", "70000"], "--port-smtps needs a port number"),
    (["serve", "--sandbox", "--port-smtps", "2000", "--port-submission", "2000"], "must differ"),
    (["serve", "--sandbox", "--data-dir"], "--data-dir needs a value"),
])
def test_bad_sandbox_options_exit_2(args, message):
    r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr


def test_unusable_data_dir_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = subprocess.run([BIN, "serve", "--sandbox", "--data-dir", str(blocker / "sub")], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "relaypool: cannot create the sandbox directory" in r.stderr
