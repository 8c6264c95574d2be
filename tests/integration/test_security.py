"""Security cases of the submission server over real sockets (SPEC.md
"Acceptance" and the server issue): exact reply codes and enhanced status
codes for AUTH/MAIL before STARTTLS, MAIL without AUTH and bad credentials
(with the auth failure delay as a lower bound), STARTTLS command injection,
size and recipient limits, connection limits (total and per address, the
address taken from the PROXY header), trusted networks, idle timeout, and
probes / garbage / malformed PROXY headers that cost only their own
connection.
"""

import os
import socket
import time

import pytest

import harness
from harness import PASSWORD, USER, Raw, auth_plain, message, proxy_v1, proxy_v2, queued_id


@pytest.fixture
def relay(make_relay):
    return make_relay(extra={"limits": {"max_message_size": 20000, "max_recipients": 3}})


def plain_session(relay, listener="submission", prefix=b""):
    raw = Raw(relay.port(listener), prefix=prefix)
    assert raw.greeting.startswith(b"220 relay.test"), raw.greeting
    return raw


def tls_session(relay, listener="submission", prefix=b"", login=True):
    raw = plain_session(relay, listener, prefix)
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    assert raw.command(b"STARTTLS").startswith(b"220 2.0.0")
    raw.starttls(relay.pki.client_context())
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    if login:
        assert raw.command(auth_plain()).startswith(b"235 2.7.0")
    return raw


def works(relay, listener="submission", prefix=b""):
    """A normal session: STARTTLS, AUTH, one message accepted."""
    raw = tls_session(relay, listener, prefix)
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250 ")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250 ")
    assert raw.command(b"DATA").startswith(b"354")
    raw.send(message("works") + b".\r\n")
    qid = queued_id(raw.reply())
    assert raw.command(b"QUIT").startswith(b"221")
    raw.close()
    return qid


# ---- before TLS / without AUTH --------------------------------------------------------
def test_no_auth_advertised_before_starttls(relay):
    raw = plain_session(relay)
    ehlo = raw.command(b"EHLO app.client.example")
    assert b"STARTTLS" in ehlo and b"AUTH" not in ehlo
    raw.close()


@pytest.mark.parametrize("command", [auth_plain(), b"AUTH LOGIN", b"MAIL FROM:<app@client.example>"])
def test_auth_and_mail_before_starttls_refused(relay, command):
    raw = plain_session(relay)
    raw.command(b"EHLO app.client.example")
    assert raw.command(command) == b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    raw.close()


def test_mail_without_auth_after_starttls(relay):
    raw = tls_session(relay, login=False)
    assert raw.command(b"MAIL FROM:<app@client.example>") == b"530 5.7.0 Authentication required\r\n"
    raw.close()


def test_auth_advertised_after_starttls(relay):
    raw = plain_session(relay)
    raw.command(b"EHLO x")
    raw.command(b"STARTTLS")
    raw.starttls(relay.pki.client_context())
    ehlo = raw.command(b"EHLO x")
    assert b"AUTH PLAIN LOGIN" in ehlo and b"STARTTLS" not in ehlo
    raw.close()


@pytest.mark.parametrize("user,password", [(USER, "wrong-password"), ("nobody", PASSWORD)])
def test_bad_credentials_delayed_535(relay, user, password):
    raw = tls_session(relay, login=False)
    before = relay.metrics()
    started = time.monotonic()
    reply = raw.command(auth_plain(user, password))
    elapsed = time.monotonic() - started
    assert reply == b"535 5.7.8 Authentication credentials invalid\r\n"
    assert elapsed >= 0.5, elapsed  # limits.auth_failure_delay: 500ms (a lower bound, not a benchmark)
    # The session stays usable: the right password still works.
    assert raw.command(auth_plain()).startswith(b"235 2.7.0")
    raw.close()
    assert failures(relay.metrics()) == failures(before) + 1
    assert password not in relay.log()


def failures(metrics_text):
    for line in metrics_text.splitlines():
        if line.startswith('relaypool_auth_failures_total{listener="submission"}'):
            return float(line.split()[-1])
    return 0.0


def test_bad_auth_login_delayed(relay):
    import base64
    raw = tls_session(relay, login=False)
    assert raw.command(b"AUTH LOGIN").startswith(b"334 ")
    assert raw.command(base64.b64encode(USER.encode())).startswith(b"334 ")
    started = time.monotonic()
    assert raw.command(base64.b64encode(b"nope")) == b"535 5.7.8 Authentication credentials invalid\r\n"
    assert time.monotonic() - started >= 0.5
    raw.close()


# ---- STARTTLS injection (CVE-2011-0411 class) -------------------------------------
def test_starttls_injection_discarded(relay):
    raw = plain_session(relay)
    raw.command(b"EHLO app.client.example")
    raw.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
    assert raw.reply().startswith(b"220 2.0.0")
    assert raw.buffer == b""
    raw.starttls(relay.pki.client_context())
    # The first reply under TLS answers our NOOP: nothing injected was answered.
    assert raw.command(b"NOOP") == b"250 2.0.0 Ok\r\n"
    # And the session is back to the pre-EHLO state: MAIL needs EHLO first.
    reply = raw.command(b"MAIL FROM:<app@client.example>")
    assert reply.startswith(b"503 5.5.1") or reply.startswith(b"530 5.7.0"), reply
    raw.close()


# ---- sizes and recipients ------------------------------------------------------------
def test_oversize_at_mail_size(relay):
    raw = tls_session(relay)
    assert raw.command(b"MAIL FROM:<app@client.example> SIZE=20001") == \
        b"552 5.3.4 Message size exceeds fixed limit\r\n"
    raw.close()


def queue_files(relay):
    d = os.path.join(relay.queue_dir, "queue")
    return sorted(f for f in os.listdir(d) if not f.endswith(".state")) if os.path.isdir(d) else []


def test_oversize_while_streaming(relay):
    before = queue_files(relay)
    raw = tls_session(relay)
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250")
    assert raw.command(b"DATA").startswith(b"354")
    raw.send(message("big", body=(b"y" * 998 + b"\r\n") * 30) + b".\r\n")
    assert raw.reply() == b"552 5.3.4 Message size exceeds fixed limit\r\n"
    # Nothing was queued, and the connection goes on normally.
    assert queue_files(relay) == before
    assert raw.command(b"RSET").startswith(b"250")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    raw.close()


def test_too_many_recipients(relay):
    raw = tls_session(relay)
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    for i in range(3):
        assert raw.command(b"RCPT TO:<r%d@example.net>" % i).startswith(b"250")
    assert raw.command(b"RCPT TO:<r4@example.net>") == b"452 4.5.3 Too many recipients\r\n"
    raw.close()


# ---- connection limits ---------------------------------------------------------------
def wait_sessions(relay, at_most, timeout=10):
    deadline = time.monotonic() + timeout
    while relay.sessions_active() > at_most:
        assert time.monotonic() < deadline, "sessions did not close"
        time.sleep(0.05)


def test_per_ip_limit(make_relay):
    relay = make_relay(extra={"limits": {"max_connections_per_ip": 3}})
    relay.wait_idle()
    held = [plain_session(relay) for _ in range(3)]
    extra = Raw(relay.port("submission"))
    assert extra.greeting.startswith(b"421 4.3.2"), extra.greeting
    assert extra.closed()
    # The count is per address across listeners. Implicit TLS is closed before
    # any handshake (a 421 inside TLS would cost one and hold a global slot).
    sock = socket.create_connection(("127.0.0.1", relay.port("smtps")), timeout=5)
    assert sock.recv(100) == b""
    sock.close()
    held.pop().close()
    wait_sessions(relay, 2)  # the closed one's slot is free again
    works(relay)
    for raw in held:
        raw.close()


def test_total_connection_limit(make_relay):
    relay = make_relay(extra={"limits": {"max_connections": 2}})
    relay.wait_idle()
    held = [plain_session(relay), plain_session(relay, "submission")]
    extra = Raw(relay.port("submission"))
    assert extra.greeting.startswith(b"421 4.3.2"), extra.greeting
    assert extra.closed()
    # Implicit TLS listeners are closed without a handshake when overloaded.
    sock = socket.create_connection(("127.0.0.1", relay.port("smtps")), timeout=5)
    assert sock.recv(100) == b""
    sock.close()
    for raw in held:
        raw.close()
    relay.wait_idle()
    works(relay)


# ---- probes, garbage, PROXY ----------------------------------------------------------
def proxy_relay(make_relay, **limits):
    listeners = [
        {"name": "submission", "tls": "starttls"},
        {"name": "smtps", "tls": "implicit"},
        {"name": "proxied", "tls": "starttls", "proxy_protocol": True},
        # No require_auth: false listener with proxy_protocol: check-config refuses it (any peer
        # could claim a trusted address; tests/data/config/invalid/proxy_without_auth.yaml).
    ]
    extra = {"trusted_networks": ["203.0.113.0/24"], "limits": limits}
    return make_relay(listeners=listeners, extra=extra)


def test_probe_then_normal_session(relay):
    for listener in ("submission", "smtps"):
        socket.create_connection(("127.0.0.1", relay.port(listener)), timeout=5).close()
    works(relay)
    assert relay.running()


def test_garbage_then_normal_session(relay):
    rnd = os.urandom(8192)
    for listener in ("submission", "smtps"):
        sock = socket.create_connection(("127.0.0.1", relay.port(listener)), timeout=10)
        try:
            sock.sendall(rnd)
            sock.settimeout(10)
            while sock.recv(65536):
                pass
        except OSError:
            pass
        sock.close()
    works(relay)
    relay.wait_log(r"debug smtpd: TLS handshake failed")


def test_malformed_proxy_header_then_normal_session(make_relay):
    relay = proxy_relay(make_relay)
    for bad in (b"GET / HTTP/1.0\r\n\r\n", b"PROXY TCP4 1.2.3.4\r\n", b"PROXY " + b"9" * 200 + b"\r\n",
                harness.PROXY_V2_SIGNATURE + b"\x21\x11\xff\xff"):
        raw = Raw(relay.port("proxied"), prefix=bad, read_greeting=False)
        assert raw.closed(), bad
        raw.close()
    # A health probe on a PROXY listener: connect + close.
    socket.create_connection(("127.0.0.1", relay.port("proxied")), timeout=5).close()
    relay.wait_log(r"debug smtpd: bad PROXY header")
    works(relay, "proxied", prefix=proxy_v1("198.51.100.20"))


@pytest.mark.parametrize("header", [proxy_v1, proxy_v2], ids=["v1", "v2"])
def test_proxy_address_used(make_relay, header):
    relay = proxy_relay(make_relay)
    qid = works(relay, "proxied", prefix=header("198.51.100.77"))
    meta, stored = relay.spooled(qid)
    assert meta["client"] == ["198.51.100.77"]
    assert b"[198.51.100.77]" in stored.split(b"\r\n\r\n")[0]
    assert f"id={qid} client=198.51.100.77" in relay.log()


def test_proxy_v2_ipv6(make_relay):
    relay = proxy_relay(make_relay)
    qid = works(relay, "proxied", prefix=proxy_v2("2001:db8::5", "2001:db8::1"))
    meta, _ = relay.spooled(qid)
    assert meta["client"] == ["2001:db8::5"]


def test_proxy_then_implicit_tls(make_relay):
    listeners = [
        {"name": "submission", "tls": "starttls"},
        {"name": "smtps", "tls": "implicit"},
        {"name": "smtps-proxied", "tls": "implicit", "proxy_protocol": True},
    ]
    relay = make_relay(listeners=listeners)
    raw = Raw(relay.port("smtps-proxied"), tls_context=relay.pki.client_context(), prefix=proxy_v2("192.0.2.44"))
    assert raw.greeting.startswith(b"220 relay.test")
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    assert raw.command(auth_plain()).startswith(b"235")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250")
    assert raw.command(b"DATA").startswith(b"354")
    raw.send(message("proxied-tls") + b".\r\n")
    qid = queued_id(raw.reply())
    raw.close()
    meta, stored = relay.spooled(qid)
    assert meta["client"] == ["192.0.2.44"] and meta["listener"] == ["smtps-proxied"]
    assert b"[192.0.2.44]" in stored.split(b"\r\n\r\n")[0]


def test_endless_line_costs_only_that_session(relay):
    raw = tls_session(relay)
    raw.send(b"NOOP " + b"A" * (4 << 20) + b"\r\n")
    assert raw.reply() == b"500 5.5.2 Line too long\r\n"
    assert raw.command(b"NOOP") == b"250 2.0.0 Ok\r\n"
    raw.close()
    works(relay)


def test_per_ip_limit_uses_proxy_address(make_relay):
    relay = proxy_relay(make_relay, max_connections_per_ip=1)
    relay.wait_idle()
    first = plain_session(relay, "proxied", prefix=proxy_v1("198.51.100.1"))
    other = plain_session(relay, "proxied", prefix=proxy_v1("198.51.100.2"))  # another client: fine
    same = Raw(relay.port("proxied"), prefix=proxy_v1("198.51.100.1"))
    assert same.greeting.startswith(b"421 4.3.2"), same.greeting
    assert same.closed()
    for raw in (first, other, same):
        raw.close()


def test_trusted_network_by_proxy_address(make_relay):
    relay = proxy_relay(make_relay)
    # A trusted PROXY address on a require_auth: true listener still needs AUTH.
    raw = tls_session(relay, "proxied", prefix=proxy_v1("203.0.113.9"), login=False)
    assert raw.command(b"MAIL FROM:<app@client.example>") == b"530 5.7.0 Authentication required\r\n"
    raw.close()


@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_idle_timeout(make_relay, listener):
    relay = make_relay(extra={"limits": {"idle_timeout": "1s"}})
    if listener == "smtps":  # the final 421 is sent inside TLS after the read was cancelled
        raw = Raw(relay.port("smtps"), tls_context=relay.pki.client_context())
        assert raw.greeting.startswith(b"220 relay.test")
    else:
        raw = plain_session(relay)
    started = time.monotonic()
    assert raw.reply().startswith(b"421 4.4.2")
    assert time.monotonic() - started >= 0.9
    assert raw.closed()
    works(relay)


def test_a_dripped_command_line_gets_idle_timeout_in_total(make_relay):
    # Slowloris: a byte every 0.5 s never leaves the connection idle for 2 s,
    # but the line has idle_timeout from its first byte to its end.
    relay = make_relay(extra={"limits": {"idle_timeout": "2s"}})
    raw = plain_session(relay)
    try:
        for byte in b"NOOP xyz":  # 4 s of dripping
            raw.send(bytes([byte]))
            time.sleep(0.5)
        raw.send(b"\r\n")
    except OSError:
        pass  # closed under us: what is asserted below
    reply = raw.reply()
    assert reply is not None and reply.startswith(b"421 4.4.2"), reply  # not the 250 to NOOP
    assert raw.closed()
    works(relay)


# ---- PROXY header: no busy loop, one deadline, per-address limit before it -----------
def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_partial_proxy_header_does_not_spin(make_relay):
    relay = proxy_relay(make_relay)
    relay.wait_idle()
    sock = socket.create_connection(("127.0.0.1", relay.port("proxied")), timeout=10)
    sock.sendall(b"PROXY TCP4 ")
    time.sleep(0.2)
    before = cpu_ticks(relay.proc.pid)
    time.sleep(4)  # inside the 5 s header deadline
    used = cpu_ticks(relay.proc.pid) - before
    sock.close()
    # A busy loop costs ~400 ticks here (one core); an idle relay ~0-5.
    assert used < 60, f"{used} CPU ticks in 4 s with one stalled PROXY header"
    works(relay, "proxied", prefix=proxy_v1("198.51.100.21"))


def test_proxy_header_has_one_total_deadline(make_relay):
    relay = proxy_relay(make_relay)
    sock = socket.create_connection(("127.0.0.1", relay.port("proxied")), timeout=10)
    header = proxy_v1("198.51.100.7")
    started = time.monotonic()
    closed = False
    for b in header[:12]:  # a byte every second: 12 s, past the 5 s deadline
        try:
            sock.sendall(bytes([b]))
            sock.settimeout(1)
            if sock.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        except OSError:
            closed = True
            break
    elapsed = time.monotonic() - started
    sock.close()
    assert closed, "a PROXY header dripped byte by byte was never timed out"
    assert elapsed < 9, f"closed only after {elapsed:.1f} s"


def test_per_ip_limit_counts_the_peer_while_the_proxy_header_is_read(make_relay):
    relay = proxy_relay(make_relay, max_connections_per_ip=2)
    relay.wait_idle()
    stalled = []
    for _ in range(2):
        sock = socket.create_connection(("127.0.0.1", relay.port("proxied")), timeout=10)
        sock.sendall(b"PROXY TCP4 ")
        stalled.append(sock)
    time.sleep(0.3)
    # A third connection from the same peer is closed at once (not after the 5 s deadline).
    third = socket.create_connection(("127.0.0.1", relay.port("proxied")), timeout=2)
    try:
        assert third.recv(100) == b""
    finally:
        third.close()
    relay.wait_log(r"too many connections from address.*client=\"?127\.0\.0\.1")
    for sock in stalled:
        sock.close()
    # Once the header is read, the PROXY address counts instead of the peer: three
    # proxied sessions from one peer are fine with a limit of two.
    time.sleep(0.3)
    held = [plain_session(relay, "proxied", prefix=proxy_v1(f"198.51.100.{30 + i}")) for i in range(3)]
    works(relay, "proxied", prefix=proxy_v1("198.51.100.40"))
    for raw in held:
        raw.close()
