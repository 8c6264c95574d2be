"""Submission end to end with real clients over real TLS (SPEC.md
"Acceptance"): Python smtplib (STARTTLS + AUTH PLAIN/LOGIN, implicit TLS,
several messages per connection, PIPELINING written in one send()), swaks
and curl. Every accepted message must be in the spool with exactly the
submitted bytes (dot-stuffing undone) behind one prepended Received: header,
found by the id of the `250 2.0.0 Ok: queued as <id>` reply.
"""

import re
import smtplib
import subprocess
import uuid

import pytest

import harness
from harness import PASSWORD, USER, Raw, auth_plain, message, queued_id


@pytest.fixture
def relay(make_relay):
    return make_relay()


def split_received(stored: bytes):
    """(Received header, rest) of a spooled message; the header must come first."""
    assert stored.startswith(b"Received: "), stored[:200]
    lines = stored.split(b"\r\n")
    n = 1
    while lines[n].startswith(b"\t") or lines[n].startswith(b" "):
        n += 1
    header = b"\r\n".join(lines[:n]) + b"\r\n"
    return header, stored[len(header):]


def assert_spooled(relay, queue_id, expected: bytes, sender="app@client.example", rcpts=("someone@example.net",)):
    meta, stored = relay.spooled(queue_id)
    received, rest = split_received(stored)
    assert rest == expected
    assert b"by relay.test" in received
    assert meta["from"] == [sender]
    assert [r.split()[0] for r in meta["rcpt"]] == list(rcpts)
    return meta, received


def send_with_id(client: smtplib.SMTP, data: bytes, sender="app@client.example", rcpts=("someone@example.net",)):
    code, _ = client.mail(sender)
    assert code == 250
    for r in rcpts:
        assert client.rcpt(r)[0] == 250
    code, reply = client.data(data)
    assert code == 250, reply
    return queued_id(b"250 " + reply)


def starttls_client(relay, login=True):
    c = smtplib.SMTP("127.0.0.1", relay.port("submission"), local_hostname="app.client.example", timeout=30)
    c.starttls(context=relay.pki.client_context())
    if login:
        c.login(USER, PASSWORD)
    return c


def test_starttls_auth_plain_send(relay):
    c = starttls_client(relay, login=False)
    c.ehlo("app.client.example")
    assert "PLAIN" in c.esmtp_features["auth"] and "LOGIN" in c.esmtp_features["auth"]
    c.user, c.password = USER, PASSWORD
    code, reply = c.auth("PLAIN", c.auth_plain)
    assert (code, reply) == (235, b"2.7.0 Authentication successful")
    data = message("plain-" + uuid.uuid4().hex)
    qid = send_with_id(c, data)
    c.quit()
    meta, received = assert_spooled(relay, qid, data)
    assert meta["auth"] == [USER]
    assert b"ESMTPSA" in received and b"app.client.example" in received
    assert re.search(r"accepted id=" + qid, relay.log())


def test_starttls_auth_login_send(relay):
    c = starttls_client(relay, login=False)
    c.ehlo("app.client.example")
    c.user, c.password = USER, PASSWORD
    code, reply = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
    assert (code, reply) == (235, b"2.7.0 Authentication successful")
    data = message("login-" + uuid.uuid4().hex)
    qid = send_with_id(c, data)
    c.quit()
    assert_spooled(relay, qid, data)


def test_implicit_tls_send(relay):
    c = smtplib.SMTP_SSL("127.0.0.1", relay.port("smtps"), local_hostname="app.client.example",
                         context=relay.pki.client_context(), timeout=30)
    c.login(USER, PASSWORD)
    data = message("smtps-" + uuid.uuid4().hex)
    qid = send_with_id(c, data)
    c.quit()
    meta, received = assert_spooled(relay, qid, data)
    assert meta["listener"] == ["smtps"]
    assert b"ESMTPSA" in received


def test_several_messages_one_connection_and_dot_stuffing(relay):
    c = starttls_client(relay)
    bodies = [message("multi-%d" % i, body=b".leading dot\r\n..two dots\r\nend\r\n") for i in range(3)]
    ids = [send_with_id(c, data, rcpts=("a@example.net", "b@example.net")) for data in bodies]
    c.quit()
    assert len(set(ids)) == 3
    for qid, data in zip(ids, bodies):
        assert_spooled(relay, qid, data, rcpts=("a@example.net", "b@example.net"))


def tls_session(relay):
    """A raw session after STARTTLS + EHLO + AUTH PLAIN."""
    raw = Raw(relay.port("submission"))
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    assert raw.command(b"STARTTLS").startswith(b"220 2.0.0")
    raw.starttls(relay.pki.client_context())
    assert b"PIPELINING" in raw.command(b"EHLO app.client.example")
    assert raw.command(auth_plain()).startswith(b"235 2.7.0")
    return raw


def test_pipelining_in_one_send(relay):
    raw = tls_session(relay)
    ids = []
    for i in range(2):
        raw.send(b"MAIL FROM:<app@client.example>\r\nRCPT TO:<x@example.net>\r\nRCPT TO:<y@example.net>\r\nDATA\r\n")
        replies = [raw.reply() for _ in range(4)]
        assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354"], replies
        data = message("pipelined-%d" % i)
        raw.send(data + b".\r\n")
        ids.append(queued_id(raw.reply()))
    # A whole transaction including the message in one write, then QUIT.
    data = message("one-write")
    raw.send(b"RSET\r\nMAIL FROM:<app@client.example>\r\nRCPT TO:<z@example.net>\r\nDATA\r\n" + data + b".\r\nQUIT\r\n")
    replies = [raw.reply() for _ in range(6)]
    assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354", b"250", b"221"], replies
    ids.append(queued_id(replies[4]))
    raw.close()
    for i, qid in enumerate(ids[:2]):
        assert_spooled(relay, qid, message("pipelined-%d" % i), rcpts=("x@example.net", "y@example.net"))
    assert_spooled(relay, ids[2], data, rcpts=("z@example.net",))


def test_bdat_chunking(relay):
    raw = tls_session(relay)
    data = message("bdat", body=b"chunked\r\n.not stuffed\r\n")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"250")
    assert raw.command(b"RCPT TO:<someone@example.net>").startswith(b"250")
    half = len(data) // 2
    raw.send(b"BDAT %d\r\n" % half + data[:half])
    assert raw.reply().startswith(b"250")
    raw.send(b"BDAT %d LAST\r\n" % (len(data) - half) + data[half:])
    qid = queued_id(raw.reply())
    raw.close()
    assert_spooled(relay, qid, data)


def test_swaks_starttls_auth(relay, tmp_path):
    data = message("swaks-" + uuid.uuid4().hex)
    path = tmp_path / "msg.eml"
    path.write_bytes(data)
    out = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(relay.port("submission")), "--tls", "--auth", "PLAIN",
         "--auth-user", USER, "--auth-password", PASSWORD, "--from", "app@client.example", "--to",
         "someone@example.net", "--helo", "swaks.client.example", "--data", str(path)],
        capture_output=True, timeout=60)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    qid = queued_id(out.stdout)
    _, stored = relay.spooled(qid)
    _, rest = split_received(stored)
    # swaks sends the file as is, then "\r\n.\r\n" (one empty line more).
    assert rest in (data, data + b"\r\n")


def test_curl_starttls_auth(relay, tmp_path):
    data = message("curl-" + uuid.uuid4().hex)
    path = tmp_path / "msg.eml"
    path.write_bytes(data)
    out = subprocess.run(
        ["curl", "-sS", "-v", "--ssl-reqd", f"smtp://127.0.0.1:{relay.port('submission')}/curl.client.example",
         "--mail-from", "app@client.example", "--mail-rcpt", "someone@example.net", "--upload-file", str(path),
         "--user", f"{USER}:{PASSWORD}", "-k"],
        capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    qid = queued_id(out.stderr)
    assert_spooled(relay, qid, data)


def test_mail_size_parameter_within_limit(make_relay):
    relay = make_relay(extra={"limits": {"max_message_size": 100000}})
    raw = tls_session(relay)
    assert raw.command(b"MAIL FROM:<app@client.example> SIZE=99999").startswith(b"250")
    raw.close()


def test_ipv6_and_ipv4_listeners_on_one_port_and_host_names(make_relay):
    port = harness.free_port()
    relay = make_relay(listeners=[
        {"name": "submission", "tls": "starttls", "address": f"127.0.0.1:{port}"},
        {"name": "submission6", "tls": "starttls", "address": f"[::1]:{port}"},
        {"name": "smtps", "tls": "implicit", "address": f"localhost:{harness.free_port()}"},
    ], start=False)
    relay.config["metrics"]["address"] = f"localhost:{relay.metrics_port}"
    relay.write_config(relay.config)
    relay.start()
    c = smtplib.SMTP("::1", port, timeout=30)
    c.starttls(context=relay.pki.client_context())
    c.login(USER, PASSWORD)
    data = message("over-ipv6")
    qid = send_with_id(c, data)
    c.quit()
    meta, received = assert_spooled(relay, qid, data)
    assert meta["listener"] == ["submission6"] and meta["client"] == ["::1"]
    assert b"[IPv6:::1]" in received or b"[::1]" in received
    assert starttls_client(relay).noop()[0] == 250
