"""upstream.sandbox end to end: the real relaypool binary, a real STARTTLS +
AUTH submission with smtplib, and the sandbox directory instead of an
upstream (SPEC.md `upstream.sandbox`, docs/delivery.md "Sandbox").

What must hold: every accepted message appears in the sandbox directory as
one complete `<queue-id>-<n>.eml`, headed by the pool account it would have
used (`X-Relaypool-Account:`), then the message exactly as the upstream would
receive it: strip_headers removed (Received, X-Originating-IP), every other
byte identical (8-bit, UTF-8, lines starting with dots, CRLF); the queue is
empty afterwards and the delivery is counted per account; round-robin uses
every account; a message accepted before a restart is written after it.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
"""

import glob
import os
import re
import smtplib
import time

import harness

ACCOUNTS = ["sandbox01@agency.example", "sandbox02@agency.example"]
SENDER = "app@client.example"


def sandbox_relay(make_relay, tmp_path, start=True, **extra):
    box = tmp_path / "sandbox-mail"
    config = {
        "upstream": {"sandbox": str(box)},
        "queue": {"retry_initial": "1s", "retry_max": "2s"},
        "pool": {"accounts": [{"username": a, "password": "dummy", "daily_limit": 100} for a in ACCOUNTS]},
    }
    config.update(extra)
    relay = make_relay(start=start, extra=config)
    return relay, str(box)


def submit(relay, data, rcpts=("someone@example.net",), sender=SENDER):
    """STARTTLS + AUTH PLAIN submission; returns the queue id from the 250 reply."""
    c = smtplib.SMTP("127.0.0.1", relay.port("submission"), local_hostname="app.client.example", timeout=30)
    try:
        c.starttls(context=relay.pki.client_context())
        c.login(harness.USER, harness.PASSWORD)
        c.mail(sender)
        for r in rcpts:
            code, _ = c.rcpt(r)
            assert code == 250
        code, reply = c.data(data)
        assert code == 250, reply
        m = re.search(rb"queued as (\S+)", reply)
        assert m, reply
        return m.group(1).decode()
    finally:
        c.quit()


def wait_files(box, pattern, count=1, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        files = sorted(glob.glob(os.path.join(box, pattern)))
        if len(files) >= count or time.monotonic() > deadline:
            return files
        time.sleep(0.05)


def split_eml(data):
    """(relaypool envelope lines, the message as it would go upstream)."""
    lines, rest = [], data
    while rest.startswith(b"X-Relaypool-"):
        line, _, rest = rest.partition(b"\r\n")
        lines.append(line.decode())
    return lines, rest


def queue_files(relay):
    qdir = os.path.join(relay.queue_dir, "queue")
    return [f for f in os.listdir(qdir)] if os.path.isdir(qdir) else []


def metric(relay, name, label):
    for line in relay.metrics().splitlines():
        if line.startswith(name + "{") and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# Header fields relaypool must strip, a UTF-8 subject, a dot line, 8-bit body.
BODY = ("Bodies pass as they are: caf\u00e9 \u2014 \u65e5\u672c\u8a9e\r\n"
        ".a line starting with a dot\r\n"
        "..two dots\r\n"
        "\r\n"
        "trailing spaces   \r\n"
        "last line\r\n").encode("utf-8")
HEADERS = ("Received: from somewhere.example by client.example; Wed, 25 Nov 2026 19:00:00 +0000\r\n"
           "X-Originating-IP: [203.0.113.7]\r\n"
           "From: App <app@client.example>\r\n"
           "To: someone@example.net\r\n"
           "Subject: =?utf-8?q?caf=C3=A9?= sandbox\r\n"
           "Message-ID: <sandbox-1@client.example>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n").encode()


def test_sandbox_writes_eml_with_account_stripped_headers_and_identical_body(make_relay, tmp_path):
    relay, box = sandbox_relay(make_relay, tmp_path)
    qid = submit(relay, HEADERS + b"\r\n" + BODY, rcpts=("someone@example.net", "other@example.org"))
    files = wait_files(box, f"{qid}-*.eml")
    assert [os.path.basename(f) for f in files] == [f"{qid}-1.eml"], relay.log()[-3000:]
    data = open(files[0], "rb").read()

    envelope, msg = split_eml(data)
    assert envelope[0].startswith("X-Relaypool-Account: ")
    account = envelope[0].split(": ", 1)[1]
    assert account in ACCOUNTS
    assert f"X-Relaypool-Mail-From: <{account}>" in envelope  # sender_rewrite: envelope
    assert "X-Relaypool-Rcpt-To: <someone@example.net>" in envelope
    assert "X-Relaypool-Rcpt-To: <other@example.org>" in envelope

    head, sep, body = msg.partition(b"\r\n\r\n")
    assert sep
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    assert b"received" not in names  # the client's and relaypool's own
    assert b"x-originating-ip" not in names
    assert b"Subject: =?utf-8?q?caf=C3=A9?= sandbox" in head
    assert b"Message-ID: <sandbox-1@client.example>" in head
    assert body == BODY  # byte-identical (dot-stuffing undone, 8-bit and CRLF intact)

    # Finished: out of the queue, counted for the account that carried it.
    deadline = time.monotonic() + 10
    while queue_files(relay) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert queue_files(relay) == []
    assert metric(relay, "relaypool_deliveries_total", f'account="{account}"') == 1
    assert not glob.glob(os.path.join(box, ".*.tmp"))


def test_sandbox_round_robin_uses_every_account(make_relay, tmp_path):
    relay, box = sandbox_relay(make_relay, tmp_path)
    ids = [submit(relay, HEADERS + b"\r\n" + BODY) for _ in range(4)]
    accounts = []
    for qid in ids:
        files = wait_files(box, f"{qid}-*.eml")
        assert len(files) == 1, relay.log()[-3000:]
        envelope, _ = split_eml(open(files[0], "rb").read())
        accounts.append(envelope[0].split(": ", 1)[1])
    assert sorted(set(accounts)) == sorted(ACCOUNTS)
    for a in ACCOUNTS:
        assert metric(relay, "relaypool_deliveries_total", f'account="{a}"') == accounts.count(a)


def test_sandbox_message_accepted_before_a_restart_is_written_after_it(make_relay, tmp_path):
    # An unwritable sandbox keeps the message queued (a write failure backs
    # off, blames no account); after a restart with a good directory it goes.
    relay, box = sandbox_relay(make_relay, tmp_path)
    relay.stop()
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the sandbox directory should be")
    relay.config["upstream"]["sandbox"] = str(blocked)
    relay.write_config(relay.config)
    relay.start()
    qid = submit(relay, HEADERS + b"\r\n" + BODY)
    relay.wait_log(r"sandbox.*write failed", timeout=15)
    assert qid in queue_files(relay)
    assert relay.stop() == 0

    relay.config["upstream"]["sandbox"] = box
    relay.write_config(relay.config)
    relay.start()
    files = wait_files(box, f"{qid}-*.eml")
    assert len(files) == 1, relay.log()[-3000:]
    _, msg = split_eml(open(files[0], "rb").read())
    assert msg.partition(b"\r\n\r\n")[2] == BODY
