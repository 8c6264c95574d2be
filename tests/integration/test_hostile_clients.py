"""Hostile clients against the real binary: password guessing over many
connections, cross-site and DNS-rebound admin requests, PROXY headers from
peers outside proxy_protocol_from, and bare CR in BDAT content.

A second client address on loopback: a socket bound to 127.0.0.2 before
connecting (Linux routes all of 127/8 to lo).

Environment: RELAYPOOL_BIN, RP_SOURCE_DIR (see conftest.py / harness.py).
"""

import json
import os
import re
import socket
import subprocess
import threading
import time

import harness
from harness import USER, Raw, auth_plain, proxy_v1, queued_id

OTHER_SOURCE = "127.0.0.2"


def tls_session(relay, source=None, listener="submission", prefix=b""):
    raw = Raw(relay.port(listener), source=source, prefix=prefix)
    assert raw.greeting.startswith(b"220 "), raw.greeting
    assert raw.command(b"EHLO client.example").startswith(b"250-")
    assert raw.command(b"STARTTLS").startswith(b"220 2.0.0")
    raw.starttls(relay.pki.client_context())
    assert raw.command(b"EHLO client.example").startswith(b"250-")
    return raw


# ---- password guessing ---------------------------------------------------------------
def guess_until_closed(relay, replies, lock, wrong_user):
    """One guessing connection: wrong passwords until the server closes it."""
    try:
        raw = tls_session(relay)
    except (OSError, AssertionError):
        return
    try:
        for i in range(5):
            user = wrong_user if i % 2 else USER
            reply = raw.command(auth_plain(user, f"guess-{i}-hunter2"))
            with lock:
                replies.append(reply)
            if reply is None or reply.startswith(b"421"):
                break
    except OSError:
        pass
    finally:
        raw.close()


def test_auth_storm_from_one_address_spares_other_addresses(make_relay):
    relay = make_relay()
    replies, lock = [], threading.Lock()
    wrong_user = "Tr0ub4dor&3-typed-as-user"
    storm = [threading.Thread(target=guess_until_closed, args=(relay, replies, lock, wrong_user))
             for _ in range(30)]
    for t in storm:
        t.start()
    # While the storm runs: the real user from another address gets in at once (no 454).
    good = tls_session(relay, source=OTHER_SOURCE)
    assert good.command(auth_plain()).startswith(b"235 2.7.0")
    good.close()
    for t in storm:
        t.join(120)
        assert not t.is_alive()

    codes = [r[:3] for r in replies if r]
    # The source is blocked after 10 failures (more were already being checked then: a
    # fresh source may have 16 checks in flight), far fewer than 30 connections x 3.
    assert codes.count(b"535") <= 20, codes
    assert any(r and r.startswith(b"421 4.7.0 Too many failed logins") for r in replies), replies

    # The guessing address is now refused before any hashing, even with the right password ...
    raw = tls_session(relay)
    assert raw.command(auth_plain()).startswith(b"421 4.7.0")
    assert raw.closed()
    # ... while another address still logs in.
    good = tls_session(relay, source=OTHER_SOURCE)
    assert good.command(auth_plain()).startswith(b"235 2.7.0")
    good.close()

    log = relay.log()
    assert "authentication refused, too many failures" in log
    # A failed username that is not a configured user is logged only as a tag.
    assert wrong_user not in log and "hunter2" not in log
    assert re.search(r"user_tag=\"?[0-9a-f]{12}", log), log[-3000:]


def test_failures_from_one_address_do_not_refuse_a_fresh_address_for_the_same_user(make_relay):
    relay = make_relay(extra={"limits": {"auth_failure_delay": "0s"}})  # only the counts matter here
    for _ in range(4):  # 12 failures for USER from 127.0.0.1 (3 per connection)
        raw = tls_session(relay)
        for i in range(3):
            reply = raw.command(auth_plain(USER, f"wrong-{i}"))
            if not reply or not reply.startswith(b"535"):
                break
        raw.close()
    good = tls_session(relay, source=OTHER_SOURCE)
    assert good.command(auth_plain()).startswith(b"235 2.7.0")
    good.close()


# ---- admin API: Origin and Host without a token ------------------------------------------
ACCOUNT = "sender@agency.example"


def curl(relay, path, method="GET", headers=()):
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method]
    for h in headers:
        argv += ["-H", h]
    argv.append(f"http://127.0.0.1:{relay.metrics_port}{path}")
    return int(subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout)


def pool_state(relay):
    out = subprocess.run([harness.BIN, "pool", "status", "--json", "--admin",
                          f"http://127.0.0.1:{relay.metrics_port}"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return {a["name"]: a["state"] for a in json.loads(out)["accounts"]}


HOSTILE_HEADERS = [
    ["Origin: http://attacker.example"],
    ["Host: attacker.example"],
    ["Host: attacker.example:9090", "Origin: http://attacker.example:9090"],  # DNS rebinding
    ["Origin: null"],
    ["Origin: http://localhost:3000"],  # another local port is another origin
]


def test_cross_site_and_rebound_admin_requests_are_refused(make_relay):
    relay = make_relay()
    for headers in HOSTILE_HEADERS:
        assert curl(relay, f"/api/v1/pool/{ACCOUNT}/pause", "POST", headers) == 403, headers
        assert curl(relay, "/api/v1/queue", "GET", headers) == 403, headers
        # /metrics stays open to anyone (Prometheus behind any name).
        assert curl(relay, "/metrics", "GET", headers) == 200, headers
    assert pool_state(relay)[ACCOUNT] != "paused"
    # Any peer can cause these: one line a minute, the first with count 1.
    assert relay.log().count("admin request refused") == 1
    # The CLI (no Origin, loopback Host) still works.
    r = subprocess.run([harness.BIN, "pool", "pause", ACCOUNT, "--admin", f"http://127.0.0.1:{relay.metrics_port}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert pool_state(relay)[ACCOUNT] == "paused"


def test_same_origin_and_loopback_names_are_allowed(make_relay):
    relay = make_relay()
    port = relay.metrics_port
    assert curl(relay, "/api/v1/queue", "GET", [f"Host: localhost:{port}"]) == 200
    assert curl(relay, "/api/v1/queue", "GET", [f"Host: localhost:{port}", f"Origin: http://localhost:{port}"]) == 200
    assert curl(relay, "/api/v1/queue", "GET", ["Host: [::1]:18080"]) == 200  # an ssh tunnel's port


def test_with_a_token_origin_and_host_are_left_to_the_token(make_relay, tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text("s3cret-admin-token\n")
    relay = make_relay(extra={"admin": {"token_file": str(token_file)}})
    hostile = ["Origin: http://attacker.example", "Host: attacker.example"]
    assert curl(relay, f"/api/v1/pool/{ACCOUNT}/pause", "POST", hostile) == 401
    assert curl(relay, "/api/v1/queue", "GET", hostile + ["Authorization: Bearer s3cret-admin-token"]) == 200


# ---- PROXY protocol only from proxy_protocol_from ----------------------------------------
def proxy_relay(make_relay, **listener):
    return make_relay(listeners=[
        {"name": "submission", "tls": "starttls"},
        dict({"name": "proxied", "tls": "starttls", "proxy_protocol": True}, **listener),
    ])


def test_proxy_header_from_a_peer_outside_proxy_protocol_from_is_refused(make_relay):
    relay = proxy_relay(make_relay, proxy_protocol_from=[f"{OTHER_SOURCE}/32"])
    outside = Raw(relay.port("proxied"), prefix=proxy_v1("198.51.100.9"), read_greeting=False)
    assert outside.closed()  # 127.0.0.1 is not in the list: no greeting, closed
    outside.close()
    relay.wait_log(r"PROXY peer not in proxy_protocol_from")
    inside = Raw(relay.port("proxied"), prefix=proxy_v1("198.51.100.9"), source=OTHER_SOURCE)
    assert inside.greeting.startswith(b"220 ")
    inside.close()
    relay.wait_log(r"PROXY header.*client=\"?198\.51\.100\.9")


def test_proxy_protocol_from_defaults_to_loopback(make_relay):
    relay = proxy_relay(make_relay)
    raw = Raw(relay.port("proxied"), prefix=proxy_v1("198.51.100.10"), source=OTHER_SOURCE)
    assert raw.greeting.startswith(b"220 ")
    raw.close()


# ---- BDAT line ends ----------------------------------------------------------------------
def test_bare_cr_in_bdat_is_stored_as_crlf(make_relay):
    relay = make_relay()
    raw = tls_session(relay)
    assert raw.command(auth_plain()).startswith(b"235")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250 ")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250 ")
    body = b"Subject: cr\r\n\r\nline one\rline two\nend\r"
    raw.send(b"BDAT %d LAST\r\n" % len(body) + body)
    qid = queued_id(raw.reply())
    raw.close()
    _, stored = relay.spooled(qid)
    content = stored[stored.index(b"Subject: cr"):]
    assert content == b"Subject: cr\r\n\r\nline one\r\nline two\r\nend\r\n"


# ---- accept() failing with EMFILE ----------------------------------------------------------
def test_accept_emfile_is_logged_once_per_interval(make_relay):
    relay = make_relay()
    harness.settle_before_fd_limit(relay)  # see there: no false UBSan report while starved
    pid = relay.proc.pid
    limits = subprocess.run(["prlimit", f"--pid={pid}", "--nofile", "--raw", "--noheadings", "--output=SOFT,HARD"],
                            capture_output=True, text=True, check=True).stdout.split()
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={in_use + 2}:{limits[1]}"], check=True)
    start = len(relay.log())
    clients = []
    try:
        # Two are accepted, the rest wait in the backlog while accept() fails with EMFILE and
        # the loop retries every 100 ms: about 20 failures in the 2 s below.
        for _ in range(6):
            clients.append(socket.create_connection(("127.0.0.1", relay.port()), timeout=5))
        time.sleep(2)
        lines = [line for line in relay.log()[start:].splitlines() if "accept failed" in line]
        assert 1 <= len(lines) <= 2, lines  # one line per 10 s, with the failure count
    finally:
        subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={limits[0]}:{limits[1]}"], check=True)
        for c in clients:
            c.close()
    # The server recovers: a new session is greeted.
    raw = Raw(relay.port())
    assert raw.greeting.startswith(b"220 ")
    raw.close()


def test_bare_cr_in_data_is_stored_as_crlf(make_relay):
    relay = make_relay()
    raw = tls_session(relay)
    assert raw.command(auth_plain()).startswith(b"235")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250 ")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250 ")
    assert raw.command(b"DATA").startswith(b"354")
    raw.send(b"Subject: cr\r\n\r\nline one\rline two\r.\r\nend\r\n.\r\n")
    qid = queued_id(raw.reply())
    raw.close()
    _, stored = relay.spooled(qid)
    content = stored[stored.index(b"Subject: cr"):]
    assert content == b"Subject: cr\r\n\r\nline one\r\nline two\r\n\r\nend\r\n"
