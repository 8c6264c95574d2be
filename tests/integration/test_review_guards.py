"""Reviewer (R) guards: behaviours verified correct in the adversarial review
(2026-11-25) that no other integration test pins down.

- SMTP smuggling: bare-LF / bare-CR dot lines never end DATA; the bytes after
  them stay message content (one 250, nothing answered as a command).
- A PROXY header sent to a listener without proxy_protocol is a bad command,
  never a change of client address (no trust from a spoofed header).
- Secrets: a full debug-level session (AUTH PLAIN, AUTH LOGIN, a failed AUTH)
  leaves no password and no AUTH payload in the log.
- BDAT and DATA do not mix in one transaction.
"""

import base64

import pytest

from harness import PASSWORD, USER, Raw, auth_plain, message, proxy_v1, queued_id


def login_session(relay, login: bytes | None = None):
    raw = Raw(relay.port("smtps"), tls_context=relay.pki.client_context())
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    assert raw.command(login or auth_plain()).startswith(b"235 2.7.0")
    return raw


@pytest.fixture
def relay(make_relay):
    # The harness upstream is a closed port: messages stay in the queue.
    return make_relay()


@pytest.mark.parametrize("sequence", [b"\n.\n", b"\r.\r\n", b"\n.\r\n", b"\r\n.\n", b"\r\n.\r.\r\n"],
                         ids=["lf-dot-lf", "cr-dot-crlf", "lf-dot-crlf", "crlf-dot-lf", "crlf-dot-cr-dot"])
def test_smuggled_end_of_data_is_content(relay, sequence):
    raw = login_session(relay)
    raw.send(b"MAIL FROM:<app@client.example>\r\nRCPT TO:<someone@example.net>\r\nDATA\r\n")
    assert raw.reply().startswith(b"250")
    assert raw.reply().startswith(b"250")
    assert raw.reply().startswith(b"354")
    raw.send(message("smuggle", b"before" + sequence + b"MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.net>"
                     b"\r\nDATA\r\nafter\r\n") + b".\r\n")
    reply = raw.reply()
    qid = queued_id(reply)
    assert raw.command(b"NOOP") == b"250 2.0.0 Ok\r\n", "a smuggled command was answered"
    raw.close()
    _, body = relay.spooled(qid)
    assert b"MAIL FROM:<evil@example.org>" in body and b"after\r\n" in body


def test_proxy_header_on_plain_listener_grants_nothing(make_relay):
    relay = make_relay(listeners=[{"name": "plain", "tls": "none", "require_auth": False},
                                  {"name": "smtps", "tls": "implicit"}],
                       extra={"trusted_networks": ["198.51.100.0/24"]})
    raw = Raw(relay.port("plain"))
    raw.send(proxy_v1("198.51.100.7"))
    assert raw.reply().startswith(b"500")
    assert raw.command(b"EHLO app.client.example").startswith(b"250-")
    assert raw.command(b"MAIL FROM:<app@client.example>").startswith(b"530 5.7.0")
    raw.close()


def test_no_secret_in_debug_log(relay):
    login = b"AUTH LOGIN " + base64.b64encode(USER.encode())
    raw = Raw(relay.port("smtps"), tls_context=relay.pki.client_context())
    raw.command(b"EHLO app.client.example")
    assert raw.command(login).startswith(b"334")
    assert raw.command(base64.b64encode(PASSWORD.encode())).startswith(b"235")
    raw.close()
    raw = login_session(relay)
    raw.close()
    bad = auth_plain(USER, "wrong-secret-Xq9")
    raw = Raw(relay.port("smtps"), tls_context=relay.pki.client_context())
    raw.command(b"EHLO app.client.example")
    assert raw.command(bad).startswith(b"535")
    raw.close()
    relay.wait_idle()
    log = relay.log()
    assert "authenticated" in log  # the log is at debug level and has the sessions
    for secret in [PASSWORD, "wrong-secret-Xq9", base64.b64encode(PASSWORD.encode()).decode(),
                   auth_plain().decode().split()[-1], bad.decode().split()[-1]]:
        assert secret not in log, f"secret {secret!r} in the log"


def test_bdat_and_data_do_not_mix(relay):
    raw = login_session(relay)
    raw.send(b"MAIL FROM:<app@client.example>\r\nRCPT TO:<someone@example.net>\r\nBDAT 5\r\nhelloDATA\r\n")
    assert raw.reply().startswith(b"250")
    assert raw.reply().startswith(b"250")
    assert raw.reply().startswith(b"250 2.0.0 5 octets")
    assert raw.reply().startswith(b"503 5.5.1")
    raw.send(b"BDAT 2 LAST\r\n\r\n")
    queued_id(raw.reply())
    raw.close()
