"""Operations (SPEC.md "Operations"): the HTTP endpoint (/healthz, /readyz,
/metrics without a token, the admin API's 401 when admin.token_file is set),
signals (SIGTERM: idle sessions get 421 4.3.2, a message in progress
finishes, exit 0; SIGHUP: a broken config is refused and the old one keeps
serving; a new certificate is used by new connections while open sessions
keep theirs).
"""

import signal
import socket
import smtplib
import ssl
import time

import pytest

import harness
from harness import PASSWORD, USER, Raw, auth_plain, message, queued_id


def tls_raw(relay, listener="submission", context=None):
    raw = Raw(relay.port(listener))
    raw.command(b"EHLO app.client.example")
    assert raw.command(b"STARTTLS").startswith(b"220")
    raw.starttls(context or relay.pki.client_context())
    raw.command(b"EHLO app.client.example")
    assert raw.command(auth_plain()).startswith(b"235")
    return raw


def send(raw, subject="m"):
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250")
    assert raw.command(b"DATA").startswith(b"354")
    raw.send(message(subject) + b".\r\n")
    return queued_id(raw.reply())


def test_health_ready_metrics(make_relay):
    relay = make_relay()
    assert relay.http("/healthz") == (200, "ok\n")
    assert relay.http("/readyz") == (200, "ready\n")
    assert relay.http("/nope")[0] == 404
    raw = tls_raw(relay)
    send(raw)
    raw.close()
    status, text = relay.http("/metrics")
    assert status == 200
    assert 'relaypool_messages_accepted_total{listener="submission"} 1' in text
    assert "relaypool_sessions_active" in text


def test_admin_token(make_relay, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    relay = make_relay(extra={"admin": {"token_file": str(token_file)}})
    assert relay.http("/api/v1/queue")[0] == 401
    assert relay.http("/api/v1/queue", token="wrong")[0] == 401
    status, body = relay.http("/api/v1/queue", token="s3cret-token")
    assert status == 200 and body.lstrip().startswith("{"), (status, body)
    # Never a token for these.
    assert relay.http("/metrics")[0] == 200
    assert relay.http("/healthz")[0] == 200
    assert relay.http("/readyz")[0] == 200
    assert "s3cret-token" not in relay.log()


def test_sigterm_closes_idle_finishes_active_exits_0(make_relay):
    relay = make_relay()
    idle = tls_raw(relay)
    active = tls_raw(relay)
    assert active.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert active.command(b"RCPT TO:<someone@example.net>").startswith(b"250")
    assert active.command(b"DATA").startswith(b"354")
    active.send(b"Subject: half\r\n")
    time.sleep(0.2)
    relay.signal(signal.SIGTERM)
    assert idle.reply().startswith(b"421 4.3.2")
    assert idle.closed()
    # The message in progress may finish and is acknowledged durably.
    active.send(b"\r\nbody\r\n.\r\n")
    qid = queued_id(active.reply())
    assert active.command(b"NOOP") in (None, b"421 4.3.2 relay.test Service shutting down, try again later\r\n")
    assert relay.proc.wait(30) == 0
    assert relay.spooled(qid)[1].endswith(b"Subject: half\r\n\r\nbody\r\n")


def test_sighup_broken_config_keeps_serving(make_relay):
    relay = make_relay()
    start = len(relay.log())
    relay.reload(text="hostname: [unclosed\n")
    relay.wait_log(r"new configuration refused", start=start)
    relay.reload(extra={"listeners": relay.listeners, "tls": {"certificate": "/nonexistent.pem"}})
    relay.wait_log(r"new configuration refused(.|\n)*new configuration refused", start=start)
    assert relay.running()
    raw = tls_raw(relay)
    send(raw)
    raw.close()


def test_sighup_applies_limits_to_new_sessions(make_relay):
    relay = make_relay(extra={"limits": {"max_recipients": 5}})
    old = tls_raw(relay)
    start = len(relay.log())
    relay.reload(extra={"limits": {"max_recipients": 1}})
    relay.wait_log(r"configuration reloaded", start=start)
    new = tls_raw(relay)
    assert new.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert new.command(b"RCPT TO:<a@example.net>").startswith(b"250")
    assert new.command(b"RCPT TO:<b@example.net>") == b"452 4.5.3 Too many recipients\r\n"
    # The session opened before the reload keeps its settings.
    assert old.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert old.command(b"RCPT TO:<a@example.net>").startswith(b"250")
    assert old.command(b"RCPT TO:<b@example.net>").startswith(b"250")
    old.close()
    new.close()


def test_sighup_reloads_certificate(make_relay, tmp_path):
    relay = make_relay()
    old = tls_raw(relay)
    pki2 = harness.make_pki(tmp_path / "pki2")
    start = len(relay.log())
    relay.reload(extra={"tls": {"certificate": pki2.cert_file, "private_key": pki2.key_file}})
    relay.wait_log(r"configuration reloaded", start=start)
    # New connections present the new certificate...
    raw = Raw(relay.port("submission"))
    raw.command(b"EHLO x")
    raw.command(b"STARTTLS")
    with pytest.raises(ssl.SSLCertVerificationError):
        raw.starttls(relay.pki.client_context())
    raw.close()
    c = smtplib.SMTP_SSL("127.0.0.1", relay.port("smtps"), context=pki2.client_context(), timeout=30)
    c.login(USER, PASSWORD)
    c.quit()
    # ...while the session opened before keeps working.
    send(old)
    old.close()


def test_readyz_503_with_reason_when_no_account_usable(make_relay):
    relay = make_relay()
    assert relay.http("/readyz") == (200, "ready\n")
    status, body = relay.http("/api/v1/pool/sender@agency.example/pause", method="POST", body=b"")
    assert status == 200, body
    status, body = relay.http("/readyz")
    assert status == 503
    assert "account" in body
    relay.http("/api/v1/pool/sender@agency.example/resume", method="POST", body=b"")
    assert relay.http("/readyz") == (200, "ready\n")


def test_port_in_use_exits_1_with_the_reason(make_relay):
    import socket
    import subprocess
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    relay = make_relay(start=False, listeners=[{"name": "submission", "tls": "starttls",
                                                "address": f"127.0.0.1:{port}"}])
    out = subprocess.run([harness.BIN, "serve", "--config", relay.config_path], capture_output=True, text=True,
                         timeout=60)
    blocker.close()
    assert out.returncode == 1
    assert "listener submission: cannot listen on 127.0.0.1:%d" % port in out.stderr


# ---- the HTTP accept loop out of file descriptors ------------------------------------
def test_http_accept_backs_off_when_out_of_descriptors(make_relay):
    import os
    import resource
    import socket

    relay = make_relay()
    pid = relay.proc.pid
    harness.settle_before_fd_limit(relay)

    def ticks():
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    log_start = len(relay.log())
    socks = []
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir(f"/proc/{pid}/fd")) + 4, hard))
        socks = [socket.create_connection(("127.0.0.1", relay.metrics_port), timeout=5) for _ in range(30)]
        relay.wait_log(r"warn http: accept failed", start=log_start)
        before = ticks()
        time.sleep(3)
        used = ticks() - before
    finally:
        for s in socks:
            s.close()
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    lines = relay.log()[log_start:].count("accept failed")
    # Without a back-off: a core busy and millions of lines; with it: 10 tries a second,
    # one log line per 10 s.
    assert used < 60, f"{used} CPU ticks in 3 s with accept() failing"
    assert lines <= 2, f"{lines} 'accept failed' lines"
    assert relay.http("/healthz") == (200, "ok\n")


def _non_loopback_address():
    """This host's address on its default route, or None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: only a route lookup
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_admin_api_without_token_answers_only_loopback(make_relay):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback IPv4 address on this host")
    relay = make_relay(start=False)
    relay.config["metrics"] = {"address": f"0.0.0.0:{relay.metrics_port}"}
    relay.write_config(relay.config)
    relay.start()
    assert relay.http("/api/v1/queue")[0] == 200  # from 127.0.0.1
    with socket.create_connection((address, relay.metrics_port), timeout=10) as s:
        s.sendall(b"GET /api/v1/queue HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        admin = b""
        while chunk := s.recv(4096):
            admin += chunk
    assert admin.startswith(b"HTTP/1.1 403"), admin[:200]
    with socket.create_connection((address, relay.metrics_port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        scraped = b""
        while chunk := s.recv(65536):
            scraped += chunk
    assert scraped.startswith(b"HTTP/1.1 200") and b"relaypool_queue_depth" in scraped
