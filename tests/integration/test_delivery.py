"""Delivery end to end: the real relaypool binary over real sockets and TLS,
between smtplib (the submitting application) and the fake Gmail upstream
(fake_upstream.py).

What must hold (SPEC.md "Delivery"): the upstream receives exactly the bytes
that were submitted, minus strip_headers; MAIL FROM is the pool account
(sender_rewrite: envelope); one authenticated session carries several
messages and never re-authenticates; a refused recipient bounces with a DSN
(checked with Python's email package) while the others are delivered; an
account the upstream refuses is avoided and the mail goes through another;
mail accepted while the upstream is down is delivered once it is back;
mail that cannot be delivered within queue.max_age bounces.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
The RelayProcess / submit helpers here are also used by test_crash.py.
"""

import base64
import email
import email.policy
import json
import os
import smtplib
import ssl
import time
import uuid

import pytest

import fake_upstream as fu
import harness
from fake_upstream import FakeUpstream

USER, PASSWORD = "app", "app-password"
ACCOUNTS = {"one@agency.example": "pw-one", "two@agency.example": "pw-two"}
SENDER = "billing@client.example"
STRIPPED = ("received", "x-originating-ip")


# ---- the relay as a process -------------------------------------------------------
class RelayProcess(harness.Relay):
    """harness.Relay (engineer S) pointed at a fake upstream instead of the
    sandbox: one STARTTLS submission listener, the pool `accounts`, short
    retry settings. The same config and spool survive stop()/kill()/start(),
    like a real restart."""

    def __init__(self, workdir, pki, upstream, accounts=None, **settings):
        self.upstream = upstream
        self.accounts = accounts if accounts is not None else ACCOUNTS
        self.settings = {"retry_initial": "1s", "retry_max": "2s", "max_age": "1h",
                         "cooldown_temporary": "2s", "connections_per_account": 2,
                         "messages_per_connection": 50, "spool": None, "upstream_tls": "starttls",
                         "ca_file": pki.ca_file}
        self.settings.update(settings)
        super().__init__(workdir, pki, listeners=[{"name": "submission", "tls": "starttls"}],
                         users={USER: PASSWORD})

    def base_config(self):
        c = super().base_config()
        s = self.settings
        c["queue"] = {"directory": s["spool"] or self.queue_dir, "max_age": s["max_age"],
                      "retry_initial": s["retry_initial"], "retry_max": s["retry_max"]}
        if s.get("min_free_space") is not None:
            c["queue"]["min_free_space"] = s["min_free_space"]
        c["upstream"] = {"host": "127.0.0.1", "port": self.upstream.port, "tls": s["upstream_tls"],
                         "ca_file": s["ca_file"],
                         "connections_per_account": s["connections_per_account"],
                         "messages_per_connection": s["messages_per_connection"],
                         "sender_rewrite": "envelope"}
        c["pool"] = {"state": os.path.join(self.workdir, "pool.state"),
                     "cooldown_temporary": s["cooldown_temporary"],
                     "accounts": [{"username": a, "password": p, "daily_limit": 2000}
                                  for a, p in self.accounts.items()]}
        return c

    @property
    def smtp_port(self):
        return self.port("submission")

    def client(self):
        c = smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname="app.client.example", timeout=60)
        c.starttls(context=self.pki.client_context())
        c.login(USER, PASSWORD)
        return c


def submit(relay, body, rcpts, sender=SENDER, mail_options=()):
    """Submits one message; returns the refused-recipients dict (raises on failure)."""
    c = relay.client()
    try:
        return c.sendmail(sender, rcpts, body, mail_options=list(mail_options))
    finally:
        c.quit()


def message(marker, body=b"hello\r\n", headers=b"", subject=None):
    """A message whose Message-ID carries `marker` (to find it upstream)."""
    subject = subject if subject is not None else marker.encode()
    return (b"From: Billing <billing@client.example>\r\nTo: someone@example.net\r\n"
            b"Subject: " + subject + b"\r\nDate: Wed, 25 Nov 2026 19:00:00 +0000\r\n"
            b"Message-ID: <" + marker.encode() + b"@client.example>\r\n" + headers + b"\r\n" + body)


def strip_headers(data, names=STRIPPED):
    """The message as relaypool must relay it: the named header fields (with
    their continuation lines) removed from the header block, nothing else."""
    head, sep, body = data.partition(b"\r\n\r\n")
    out, skipping = [], False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                out.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower().decode() in names
        if not skipping:
            out.append(line)
    return b"\r\n".join(out) + sep + body


def with_marker(upstream, marker):
    """Deliveries of the message with `marker` (DSNs to SENDER quote it too: not those)."""
    needle = b"<" + marker.encode() + b"@client.example>"
    return [m for m in upstream.messages if needle in m.data and m.rcpts != [SENDER]]


def wait_marker(upstream, marker, count=1, timeout=60):
    assert upstream.wait_for(lambda u: len(with_marker(u, marker)) >= count, timeout), (
        f"{marker} not delivered; upstream saw {len(upstream.messages)} messages")
    return with_marker(upstream, marker)


def dsns_for(upstream, rcpt):
    out = []
    for m in upstream.messages:
        if m.rcpts == [rcpt]:
            parsed = email.message_from_bytes(m.data, policy=email.policy.default)
            if parsed.get_content_type() == "multipart/report":
                out.append(parsed)
    return out


def delivery_status(dsn):
    """Per-recipient field dicts of a DSN's message/delivery-status part."""
    assert dsn.get_param("report-type") == "delivery-status"
    part = next(p for p in dsn.walk() if p.get_content_type() == "message/delivery-status")
    # email parses message/delivery-status as a list of header blocks.
    blocks = part.get_payload()
    return [{k.lower(): str(v) for k, v in b.items()} for b in blocks[1:]]


# ---- fixtures --------------------------------------------------------------------------
@pytest.fixture
def upstream(pki):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as up:
        yield up


@pytest.fixture
def relay_factory(tmp_path, pki):
    started = []

    def make(upstream, **settings):
        r = RelayProcess(tmp_path / f"relay{len(started)}", pki, upstream, **settings)
        started.append(r)
        return r.start()

    yield make
    for r in started:
        code = r.stop()
        assert code in (0, None), f"relaypool exited {code} on SIGTERM:\n{r.log()[-4000:]}"


# ---- content ------------------------------------------------------------------------------
def _attachment_message(marker):
    payload = os.urandom(20 * 1024 * 1024)
    b64 = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return message(marker, headers=b"MIME-Version: 1.0\r\n"
                   b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
                   body=b"--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
                   b"--b1\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Transfer-Encoding: base64\r\n"
                   b"Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n" + b64 +
                   b"--b1--\r\n")


CONTENT = {
    "dots": (lambda m: message(m, body=b".\r\n..\r\n.leading\r\n...three\r\nend .\r\n.\r\n"), []),
    "eight_bit": (lambda m: message(m, headers=b"Content-Transfer-Encoding: 8bit\r\n",
                                    body=bytes(range(128, 256)) + b"\r\nlatin1: \xe9\xe8\r\n"),
                  ["BODY=8BITMIME"]),
    "utf8": (lambda m: message(m, subject="héllo wörld ✉".encode(),
                               headers="Content-Type: text/plain; charset=utf-8\r\n".encode(),
                               body="Привет, 世界 — ünïcødé\r\n".encode()), ["SMTPUTF8", "BODY=8BITMIME"]),
    "long_lines": (lambda m: message(m, body=b"a" * 998 + b"\r\n." + b"b" * 997 + b"\r\n" + b"c" * 998 + b"\r\n"),
                   []),
    "stripped_headers": (lambda m: message(
        m, headers=b"Received: from laptop ([10.1.2.3])\r\n\tby app; Wed, 25 Nov 2026 18:59:00 +0000\r\n"
        b"X-Originating-IP: [10.1.2.3]\r\nX-Kept: yes\r\nreceived: lower case too\r\n"), []),
    "attachment_20mib": (_attachment_message, []),
}


@pytest.fixture(scope="module", params=["bdat", "data"])
def content_setup(request, tmp_path_factory, pki):
    """One relay + upstream per body transfer mode: BDAT (CHUNKING offered,
    as by Gmail) and DATA with dot-stuffing (an upstream without CHUNKING)."""
    without = () if request.param == "bdat" else ("CHUNKING",)
    with FakeUpstream(accounts=ACCOUNTS, pki=pki, without=without) as up:
        relay = RelayProcess(tmp_path_factory.mktemp("relay"), pki, up).start()
        yield relay, up
        assert relay.stop() == 0, relay.log()[-4000:]


@pytest.mark.parametrize("name", sorted(CONTENT))
def test_content_arrives_byte_identical(content_setup, name):
    relay, up = content_setup
    make, options = CONTENT[name]
    marker = f"{name}-{uuid.uuid4().hex}"
    body = make(marker)
    assert submit(relay, body, ["someone@example.net"], mail_options=options) == {}
    (got,) = wait_marker(up, marker, timeout=180)
    assert got.via == ("DATA" if "CHUNKING" in up.without else "BDAT")
    expected = strip_headers(body)
    assert len(got.data) == len(expected)
    assert got.data == expected
    assert got.mail_from in ACCOUNTS and got.account == got.mail_from  # sender_rewrite: envelope
    assert got.rcpts == ["someone@example.net"]
    if name == "stripped_headers":
        assert b"X-Kept: yes\r\n" in got.data and b"Received" not in got.data and b"10.1.2.3" not in got.data


def test_utf8_recipient_with_smtputf8(content_setup):
    relay, up = content_setup
    marker = f"utf8rcpt-{uuid.uuid4().hex}"
    rcpt = "użytkownik@example.net"
    assert submit(relay, message(marker, body="zażółć\r\n".encode()), [rcpt],
                  mail_options=["SMTPUTF8", "BODY=8BITMIME"]) == {}
    (got,) = wait_marker(up, marker)
    assert got.rcpts == [rcpt]
    assert "SMTPUTF8" in [p.upper() for p in got.mail_params]


# ---- sessions ---------------------------------------------------------------------------------
def test_one_session_carries_several_messages(upstream, relay_factory):
    relay = relay_factory(upstream, accounts={"one@agency.example": "pw-one"}, connections_per_account=1)
    markers = [f"reuse{i}-{uuid.uuid4().hex}" for i in range(5)]
    c = relay.client()
    for m in markers:
        c.sendmail(SENDER, ["someone@example.net"], message(m))
    c.quit()
    for m in markers:
        wait_marker(upstream, m)
    msgs = [with_marker(upstream, m)[0] for m in markers]
    sessions = {m.session for m in msgs}
    # One session may have been replaced if it idled out between two messages;
    # what must never happen is a second AUTH in a session or one login per message.
    assert upstream.counter("logins") == len(sessions) < len(markers)
    for s in upstream.sessions:
        assert sum(1 for cmd in s.commands if cmd.upper().startswith("AUTH")) <= 1
    busiest = max(upstream.sessions, key=lambda s: s.messages)
    verbs = [c.split(" ")[0].upper() for c in busiest.commands]
    assert busiest.messages >= 2 and verbs.count("RSET") >= busiest.messages - 1


# ---- per-recipient results and DSNs ------------------------------------------------------------
def test_partial_recipients_bounce_with_dsn(upstream, relay_factory):
    upstream.add_fault("rcpt", fu.NO_SUCH_USER, recipient="ghost@example.net")
    relay = relay_factory(upstream)
    marker = f"partial-{uuid.uuid4().hex}"
    body = message(marker)
    assert submit(relay, body, ["ghost@example.net", "ok@example.net", "also-ok@example.net"]) == {}
    (got,) = wait_marker(upstream, marker)
    assert sorted(got.rcpts) == ["also-ok@example.net", "ok@example.net"]
    assert upstream.wait_for(lambda u: dsns_for(u, SENDER), 60), "no DSN reached the sender"
    (dsn,) = dsns_for(upstream, SENDER)
    (status,) = delivery_status(dsn)
    assert status["final-recipient"].lower().endswith("ghost@example.net")
    assert status["action"] == "failed"
    assert status["status"] == "5.1.1"
    assert "550" in status.get("diagnostic-code", "")
    # The returned message (or its headers) identifies what bounced.
    assert marker.encode() in dsn.as_bytes()
    time.sleep(1)  # nothing else is still on its way
    assert len(with_marker(upstream, marker)) == 1
    assert len(dsns_for(upstream, SENDER)) == 1


# ---- accounts the upstream refuses --------------------------------------------------------------
@pytest.mark.parametrize("stage,reply", [
    ("auth", fu.AUTH_FAILED),
    ("auth", fu.TOO_MANY_LOGINS),
    ("mail", fu.TRY_AGAIN_LATER),
    ("mail", fu.DAILY_LIMIT),
    ("rcpt", fu.DAILY_LIMIT),
])
def test_refused_account_is_avoided(upstream, relay_factory, stage, reply):
    upstream.add_fault(stage, reply, account="one@agency.example")
    relay = relay_factory(upstream, cooldown_temporary="1h")  # no second chance within the test
    markers = [f"avoid{i}-{uuid.uuid4().hex}" for i in range(3)]
    for m in markers:
        assert submit(relay, message(m), ["someone@example.net"]) == {}
    for m in markers:
        (got,) = wait_marker(upstream, m)
        assert got.account == got.mail_from == "two@agency.example"
    # Blamed once, then left alone (auth: disabled; 454: cooling down; 5.4.5: exhausted).
    assert upstream.counter("auth_attempts", "one@agency.example") <= 1
    assert not dsns_for(upstream, SENDER)


def pool_states(relay):
    status, body = relay.http("/api/v1/pool")
    assert status == 200, body
    return {a["name"]: a["state"] for a in json.loads(body)["accounts"]}


def test_ip_rate_limit_cools_every_account(upstream, relay_factory):
    upstream.add_fault("mail", fu.IP_RATE, times=1)
    relay = relay_factory(upstream, cooldown_temporary="3s")
    marker = f"iprate-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["someone@example.net"]) == {}
    assert eventually(lambda: set(pool_states(relay).values()) == {"cooling_down"}, 10), pool_states(relay)
    # After the cooldown the message goes out, once, with no bounce.
    assert len(wait_marker(upstream, marker)) == 1
    assert [t.accepted for t in upstream.transactions] == [True]
    assert not dsns_for(upstream, SENDER)


# ---- the upstream goes away and comes back -------------------------------------------------------
def test_upstream_down_then_up_loses_nothing(upstream, relay_factory):
    relay = relay_factory(upstream)
    upstream.down()
    markers = [f"down{i}-{uuid.uuid4().hex}" for i in range(4)]
    for m in markers:
        assert submit(relay, message(m), ["someone@example.net"]) == {}
    time.sleep(2.5)  # several retries against a closed port
    assert upstream.messages == []
    upstream.up()
    for m in markers:
        assert len(wait_marker(upstream, m, timeout=60)) == 1
    time.sleep(1)
    assert len(upstream.messages) == len(markers)
    assert not dsns_for(upstream, SENDER)


def test_upstream_dies_mid_session_then_recovers(upstream, relay_factory):
    upstream.add_fault("body", action="close", times=1)
    relay = relay_factory(upstream)
    marker = f"midsession-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["someone@example.net"]) == {}
    assert len(wait_marker(upstream, marker, timeout=60)) == 1
    refused = [t for t in upstream.transactions if not t.accepted]
    assert len(refused) == 1  # the dropped attempt, then the retry


# ---- max_age ---------------------------------------------------------------------------------------
def test_undeliverable_recipient_bounces_after_max_age(upstream, relay_factory):
    upstream.add_fault("rcpt", fu.RECEIVING_TOO_FAST, recipient="slow@example.net")
    relay = relay_factory(upstream, max_age="4s")
    marker = f"expire-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["slow@example.net", "fine@example.net"]) == {}
    (got,) = wait_marker(upstream, marker)
    assert got.rcpts == ["fine@example.net"]
    assert upstream.wait_for(lambda u: dsns_for(u, SENDER), 60), "no DSN after max_age:\n" + relay.log()[-3000:]
    (dsn,) = dsns_for(upstream, SENDER)
    (status,) = delivery_status(dsn)
    assert status["final-recipient"].lower().endswith("slow@example.net")
    assert status["action"] == "failed"
    assert status["status"].startswith("4.") or status["status"].startswith("5.")
    assert len(with_marker(upstream, marker)) == 1


# ---- TLS to the upstream ----------------------------------------------------------------------------
def test_implicit_tls_upstream(pki, relay_factory):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki, tls="implicit") as up:
        relay = relay_factory(up, upstream_tls="implicit")
        marker = f"implicit-{uuid.uuid4().hex}"
        assert submit(relay, message(marker), ["someone@example.net"]) == {}
        (got,) = wait_marker(up, marker)
        assert got.tls and got.account in ACCOUNTS


def eventually(predicate, timeout=30):
    """Polls `predicate` until true or `timeout` (for state the relay updates
    after the event the test waited for)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def deferrals(relay, reason):
    """Sum of relaypool_deferrals_total{reason=...} over accounts."""
    total = 0.0
    for line in relay.metrics().splitlines():
        if line.startswith("relaypool_deferrals_total{") and f'reason="{reason}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_untrusted_upstream_certificate_is_never_sent_to(upstream, relay_factory, tmp_path):
    other_ca = harness.make_pki(tmp_path / "other-pki")  # trusts a different CA
    relay = relay_factory(upstream, ca_file=other_ca.ca_file)
    marker = f"untrusted-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["someone@example.net"]) == {}
    relay.wait_log(r"certificate verification failed", timeout=30)
    assert upstream.counter("auth_attempts") == 0 and upstream.messages == []
    assert eventually(lambda: deferrals(relay, "tls") >= 1)
    # Blames the upstream, not an account: both accounts stay usable.
    status, body = relay.http("/api/v1/pool")
    if status == 200:
        assert '"disabled"' not in body and '"cooling_down"' not in body
    # Fixed config + restart: the queued message goes out.
    assert relay.stop() == 0
    relay.settings["ca_file"] = relay.pki.ca_file
    relay.config = relay.build_config(relay.extra)
    relay.write_config(relay.config)
    relay.start()
    assert len(wait_marker(upstream, marker)) == 1


def test_connection_failures_count_as_connection_deferrals(upstream, relay_factory):
    relay = relay_factory(upstream)
    upstream.down()
    marker = f"conn-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["someone@example.net"]) == {}
    relay.wait_log(r"Connection refused", timeout=30)
    assert eventually(lambda: deferrals(relay, "connection") >= 1)
    assert deferrals(relay, "auth") == 0 and deferrals(relay, "rate_limited") == 0
    upstream.up()
    assert len(wait_marker(upstream, marker)) == 1


def test_sigterm_with_a_silent_upstream_still_exits_cleanly(upstream, relay_factory):
    """Idle sessions get QUIT at shutdown; an upstream that never answers it
    must not hold relaypool (the harness allows 30 s for SIGTERM)."""
    upstream.add_fault("quit", action="hang")
    relay = relay_factory(upstream)
    marker = f"quit-{uuid.uuid4().hex}"
    assert submit(relay, message(marker), ["someone@example.net"]) == {}
    wait_marker(upstream, marker)
    assert relay.stop() == 0, relay.log()[-3000:]
    assert upstream.counter("quits") >= 1
