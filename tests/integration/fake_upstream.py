#!/usr/bin/python3
"""A fake smtp.gmail.com for relaypool's integration tests (stdlib only).

What it is: an asyncio SMTP server that speaks like Gmail's submission
endpoint: the same banner, EHLO capabilities before and after TLS, AUTH
PLAIN / LOGIN / XOAUTH2, the real reply texts for refusals, PIPELINING,
CHUNKING (BDAT) and SMTPUTF8. Tests script faults at any stage (per account
and per recipient), take it down and bring it back on the same port, and
inspect every transaction it received (exact bytes after dot-unstuffing).

Invariants:
- A transaction is recorded as accepted only after the server's final 250
  was written; `messages` holds exactly those, in arrival order.
- One AUTH per session: a second one gets Gmail's
  `503 5.7.0 No identity changes permitted`.
- The server runs on its own event loop thread; every public method is safe
  to call from the test thread.

Who may use it: tests/integration/*.py (as a library: `FakeUpstream(...)`),
and people by hand (CLI: `python3 fake_upstream.py --help`; SIGUSR1 takes it
down, SIGUSR2 brings it back, SIGHUP re-reads --faults-file).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Optional

# ---- Gmail's texts ---------------------------------------------------------
# Verbatim shapes of smtp.gmail.com replies (the trailing id varies in reality).
_GSMTP = "x1-20020a170902 - gsmtp"


def reply_text(code: int, enhanced: str, *lines: str) -> str:
    """A (multi-line) reply as Gmail writes it: every line carries the code and
    the enhanced status; lines are joined with CRLF, no trailing CRLF."""
    out = []
    for i, line in enumerate(lines):
        sep = " " if i == len(lines) - 1 else "-"
        out.append(f"{code}{sep}{enhanced} {line}" if enhanced else f"{code}{sep}{line}")
    return "\r\n".join(out)


AUTH_FAILED = reply_text(
    535, "5.7.8", "Username and Password not accepted. For more information, go to",
    f" https://support.google.com/mail/?p=BadCredentials {_GSMTP}")
APP_PASSWORD_REQUIRED = reply_text(
    534, "5.7.9", "Application-specific password required. For more information, go to",
    f" https://support.google.com/mail/?p=InvalidSecondFactor {_GSMTP}")
WEB_LOGIN_REQUIRED = reply_text(
    534, "5.7.14", "<https://accounts.google.com/signin/continue?sarp=1&scc=1>",
    "Please log in via your web browser and then try again.",
    f" https://support.google.com/mail/answer/78754 {_GSMTP}")
TOO_MANY_LOGINS = reply_text(
    454, "4.7.0", f"Too many login attempts, please try again later. {_GSMTP}")
DAILY_LIMIT = reply_text(
    550, "5.4.5", "Daily user sending limit exceeded. For more information on Gmail",
    "sending limits go to", f" https://support.google.com/a/answer/166852 {_GSMTP}")
TRY_AGAIN_LATER = reply_text(
    421, "4.7.0", "Try again later, closing connection. (MAIL)",
    f" https://support.google.com/a/answer/3221692 {_GSMTP}")
IP_RATE = reply_text(
    421, "4.7.28", "[127.0.0.1      15] Our system has detected an unusual rate of",
    "unsolicited mail originating from your IP address. To protect our",
    "users from spam, mail sent from your IP address has been temporarily",
    "rate limited. Please visit",
    f" https://support.google.com/mail/?p=UnsolicitedRateLimitError {_GSMTP}")
NO_SUCH_USER = reply_text(
    550, "5.1.1", "The email account that you tried to reach does not exist. Please try",
    "double-checking the recipient's email address for typos or",
    "unnecessary spaces. For more information, go to",
    f" https://support.google.com/mail/?p=NoSuchUser {_GSMTP}")
RECEIVING_TOO_FAST = reply_text(
    450, "4.2.1", "The user you are trying to contact is receiving mail too quickly.",
    "Please resend your message at a later time. If the user is able to",
    "receive mail at that time, your message will be delivered.",
    f" https://support.google.com/mail/?p=ReceivingRate {_GSMTP}")
MESSAGE_TOO_LARGE = reply_text(
    552, "5.3.4", "Your message exceeded Google's message size limits. For more information, go to",
    f" https://support.google.com/mail/?p=MaxSizeError {_GSMTP}")
TEMPORARY_SYSTEM_PROBLEM = reply_text(
    451, "4.3.0", f"Mail server temporarily rejected message. {_GSMTP}")
NO_IDENTITY_CHANGES = f"503 5.7.0 No identity changes permitted. {_GSMTP}"
AUTH_REQUIRED = reply_text(
    530, "5.7.0", "Authentication Required. For more information, go to",
    f" https://support.google.com/mail/?p=WantAuthError {_GSMTP}")
MUST_STARTTLS = f"530 5.7.0 Must issue a STARTTLS command first. {_GSMTP}"
TIMEOUT_CLOSING = f"451 4.4.2 Timeout - closing connection. {_GSMTP}"

SIZE_LIMIT = 35882577
CAPS_BEFORE_TLS = ["SIZE 35882577", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES",
                   "PIPELINING", "CHUNKING", "SMTPUTF8"]
AUTH_CAPABILITY = "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH"

STAGES = ("greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "body", "rset", "quit")


# ---- test PKI (openssl CLI) --------------------------------------------------
@dataclasses.dataclass
class Pki:
    ca_file: str
    ca_key: str
    cert_file: str
    key_file: str


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_test_ca(directory: str, name: str = "ca") -> tuple[str, str]:
    """A self-signed P-256 CA in `directory` (reused when present): (cert, key)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        os.makedirs(directory, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", key, "-out", cert, "-days", "3650",
                 "-subj", f"/CN=relaypool test {name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "subjectKeyIdentifier=hash", cwd=directory)
    return cert, key


def make_leaf(directory: str, ca: tuple[str, str], name: str = "server",
              san: str = "DNS:localhost,IP:127.0.0.1") -> tuple[str, str]:
    """A server certificate signed by `ca` with the given subjectAltName: (cert, key)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    if os.path.exists(cert) and os.path.exists(key):
        return cert, key
    csr, ext = os.path.join(directory, f"{name}.csr"), os.path.join(directory, f"{name}.ext")
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={name}", cwd=directory)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-set_serial", str(int(time.time() * 1000) ^ os.getpid()),
             "-days", "825", "-out", cert, "-extfile", ext, cwd=directory)
    return cert, key


def make_test_pki(directory: str, san: str = "DNS:localhost,IP:127.0.0.1") -> Pki:
    """CA + leaf (SAN localhost / 127.0.0.1) in `directory`, created once."""
    ca = make_test_ca(directory)
    cert, key = make_leaf(directory, ca, "server", san)
    return Pki(ca_file=ca[0], ca_key=ca[1], cert_file=cert, key_file=key)


# ---- scripted faults ---------------------------------------------------------
@dataclasses.dataclass
class Fault:
    """One scripted deviation. Matches when the stage is reached and `account`
    (None = any; stages before AUTH only match None) and, for rcpt, `recipient`
    match. action: "reply" writes `reply` instead of the normal answer (a 421
    then closes, like Gmail); "close" drops the connection without a reply;
    "hang" never answers. `delay` seconds pass first; with reply=None and
    action "reply" the stage then proceeds normally (a slow server).
    `times` = how often it fires (None = every time)."""
    stage: str
    reply: Optional[str] = None
    account: Optional[str] = None
    recipient: Optional[str] = None
    times: Optional[int] = None
    action: str = "reply"
    delay: float = 0.0
    close_after: Optional[bool] = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")
        if self.action not in ("reply", "close", "hang"):
            raise ValueError(f"unknown action {self.action!r}")

    def closes(self) -> bool:
        if self.close_after is not None:
            return self.close_after
        return bool(self.reply) and self.reply.startswith("421")


# ---- records -------------------------------------------------------------------
@dataclasses.dataclass
class Transaction:
    seq: int
    session: int
    account: Optional[str]
    mail_from: str
    mail_params: list
    rcpts: list               # accepted recipients
    data: bytes               # after dot-unstuffing / BDAT reassembly
    via: str                  # "DATA" or "BDAT"
    accepted: bool
    reply: str
    tls: bool
    at: float


@dataclasses.dataclass
class Session:
    id: int
    peer: str
    tls: bool = False
    sni: Optional[str] = None
    account: Optional[str] = None
    commands: list = dataclasses.field(default_factory=list)  # AUTH payloads redacted
    messages: int = 0
    closed: Optional[str] = None  # "quit" | "client" | "server" | "down"


class _Close(Exception):
    """End the connection now (after a closing reply or a dropped fault)."""


class _Hang(Exception):
    """Stop answering; the connection stays open until the client gives up."""


# ---- one connection ------------------------------------------------------------
class _Connection:
    def __init__(self, server: "FakeUpstream", reader, writer, session: Session):
        self.srv, self.reader, self.writer, self.s = server, reader, writer, session
        self.ehlo = False
        self.account: Optional[str] = None
        self.last_fault_reply = ""
        self._reset_transaction()

    def _reset_transaction(self) -> None:
        self.mail_from: Optional[str] = None
        self.mail_params: list = []
        self.rcpts: list = []
        self.chunks = bytearray()
        self.bdat_failed = False

    # -- I/O
    async def send(self, text: str) -> None:
        self.writer.write(text.replace("\r\n", "\n").replace("\n", "\r\n").encode() + b"\r\n")
        await self.writer.drain()

    async def readline(self) -> bytes:
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.srv.idle_timeout)
        except asyncio.TimeoutError:
            await self.send(TIMEOUT_CLOSING)
            self.s.closed = "server"
            raise _Close()
        except asyncio.LimitOverrunError:
            await self.send("500 5.5.2 Line too long")
            self.s.closed = "server"
            raise _Close()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.s.closed = self.s.closed or "client"
            raise _Close()
        return line

    async def fault(self, stage: str, recipient: Optional[str] = None,
                    account: Optional[str] = None) -> bool:
        """Apply a matching fault; True when it answered (the caller stops)."""
        f = self.srv._take_fault(stage, account if account is not None else self.account, recipient)
        if f is None:
            return False
        if f.delay:
            await asyncio.sleep(f.delay)
        if f.action == "close":
            self.s.closed = "server"
            raise _Close()
        if f.action == "hang":
            raise _Hang()
        if f.reply is None:
            return False
        self.last_fault_reply = f.reply
        await self.send(f.reply)
        if f.closes():
            self.s.closed = "server"
            raise _Close()
        return True

    # -- the loop
    async def run(self) -> None:
        try:
            try:
                if not await self.fault("greeting"):
                    await self.send(f"220 smtp.gmail.com ESMTP {self.s.id:08x}{_GSMTP[2:]}")
                while True:
                    line = await self.readline()
                    await self.dispatch(line)
            except _Hang:
                await asyncio.sleep(3600)
        except (_Close, ConnectionError, asyncio.IncompleteReadError):
            pass
        except ssl.SSLError as e:
            self.srv._count("tls_failures")
            self.s.commands.append(f"<tls error: {e.reason}>")
            self.s.closed = "client"
        finally:
            self.writer.transport.abort() if self.s.closed in ("server", "down") else self.writer.close()
            self.srv._session_closed(self.s)

    async def dispatch(self, raw: bytes) -> None:
        line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        # AUTH payloads are credentials: only the mechanism is kept.
        self.s.commands.append(f"AUTH {arg.split(' ')[0]}" if verb == "AUTH" else line)
        handler = _COMMANDS.get(verb)
        if handler is None:
            await self.send(f"502 5.5.1 Unrecognized command. {_GSMTP}")
            return
        await handler(self, arg.strip())

    # -- verbs (one function per verb)
    async def cmd_ehlo(self, arg: str) -> None:
        if not arg:
            await self.send(f"555 5.5.2 Syntax error. {_GSMTP}")
            return
        if await self.fault("ehlo"):
            return
        self.ehlo = True
        self._reset_transaction()
        caps = [c for c in CAPS_BEFORE_TLS if c.split()[0] not in self.srv.without]
        if self.s.tls or self.srv.tls_mode == "none":
            caps = [c for c in caps if c != "STARTTLS"]
            caps.insert(2, AUTH_CAPABILITY)
        lines = [f"smtp.gmail.com at your service, [{self.s.peer}]"] + caps
        await self.send(reply_text(250, "", *lines))

    async def cmd_helo(self, arg: str) -> None:
        if await self.fault("ehlo"):
            return
        self.ehlo = True
        self._reset_transaction()
        await self.send("250 smtp.gmail.com at your service")

    async def cmd_starttls(self, arg: str) -> None:
        if self.s.tls or self.srv.tls_mode != "starttls":
            await self.send(f"503 5.5.1 STARTTLS not permitted. {_GSMTP}")
            return
        if not self.ehlo:
            await self.send(f"503 5.5.1 EHLO/HELO first. {_GSMTP}")
            return
        if await self.fault("starttls"):
            return
        await self.send("220 2.0.0 Ready to start TLS")
        await self.writer.start_tls(self.srv._ssl_context())
        self.srv._tls_established(self.s, self.writer)
        self.ehlo = False  # RFC 3207: the client starts over
        self.account = None
        self._reset_transaction()

    async def cmd_auth(self, arg: str) -> None:
        if not self.ehlo:
            await self.send(f"503 5.5.1 EHLO/HELO first. {_GSMTP}")
            return
        if self.srv.tls_mode != "none" and not self.s.tls:
            await self.send(MUST_STARTTLS)
            return
        if self.account is not None:
            await self.send(NO_IDENTITY_CHANGES)
            return
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        decoder = _MECHANISMS.get(mech)
        if decoder is None:
            await self.send(f"504 5.7.4 Unrecognized authentication type. {_GSMTP}")
            return
        creds = await decoder(self, initial.strip())
        if creds is None:
            return  # aborted or malformed: already answered
        user, secret, kind = creds
        self.srv._count("auth_attempts", user)
        if await self.fault("auth", account=user):
            self.srv._count("auth_failures", user)
            return
        if not self.srv._check(user, secret, kind):
            self.srv._count("auth_failures", user)
            if kind == "token":
                err = json.dumps({"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"})
                await self.send("334 " + base64.b64encode(err.encode()).decode())
                await self.readline()  # the client's empty continuation
            await self.send(AUTH_FAILED)
            return
        self.account = self.s.account = user
        self.srv._count("logins", user)
        await self.send("235 2.7.0 Accepted")

    async def _challenge(self, prompt: str) -> Optional[str]:
        await self.send(f"334 {prompt}")
        answer = (await self.readline()).rstrip(b"\r\n").decode("ascii", "replace")
        if answer == "*":
            await self.send(f"501 5.7.0 Authentication aborted. {_GSMTP}")
            return None
        return answer

    async def _b64(self, text: str) -> Optional[bytes]:
        try:
            return base64.b64decode(text, validate=True)
        except (ValueError, base64.binascii.Error):
            await self.send(f"501 5.5.2 Cannot Decode response. {_GSMTP}")
            return None

    async def sasl_plain(self, initial: str):
        if not initial:
            initial = await self._challenge("")
            if initial is None:
                return None
        raw = await self._b64(initial)
        if raw is None:
            return None
        parts = raw.split(b"\0")
        if len(parts) != 3:
            await self.send(f"501 5.5.2 Cannot Decode response. {_GSMTP}")
            return None
        return parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace"), "password"

    async def sasl_login(self, initial: str):
        if not initial:
            initial = await self._challenge("VXNlcm5hbWU6")
            if initial is None:
                return None
        user = await self._b64(initial)
        if user is None:
            return None
        answer = await self._challenge("UGFzc3dvcmQ6")
        if answer is None:
            return None
        password = await self._b64(answer)
        if password is None:
            return None
        return user.decode("utf-8", "replace"), password.decode("utf-8", "replace"), "password"

    async def sasl_xoauth2(self, initial: str):
        if not initial:
            initial = await self._challenge("")
            if initial is None:
                return None
        raw = await self._b64(initial)
        if raw is None:
            return None
        m = re.fullmatch(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]*)\x01\x01", raw)
        if not m:
            await self.send(f"501 5.5.2 Cannot Decode response. {_GSMTP}")
            return None
        return m.group(1).decode("utf-8", "replace"), m.group(2).decode("utf-8", "replace"), "token"

    async def cmd_mail(self, arg: str) -> None:
        if not self.ehlo:
            await self.send(f"503 5.5.1 EHLO/HELO first. {_GSMTP}")
            return
        if self.srv.tls_mode != "none" and not self.s.tls:
            await self.send(MUST_STARTTLS)
            return
        if self.account is None:
            await self.send(AUTH_REQUIRED)
            return
        if self.mail_from is not None:
            await self.send(f"503 5.5.1 Nested MAIL command. {_GSMTP}")
            return
        m = re.fullmatch(r"FROM:\s*<([^>]*)>\s*(.*)", arg, re.IGNORECASE)
        if not m:
            await self.send(f"555 5.5.2 Syntax error. {_GSMTP}")
            return
        params = m.group(2).split()
        for p in params:
            key, _, value = p.partition("=")
            if key.upper() == "SIZE" and value.isdigit() and int(value) > self.srv.size_limit:
                await self.send(MESSAGE_TOO_LARGE)
                return
        if await self.fault("mail"):
            return
        self.mail_from, self.mail_params = m.group(1), params
        await self.send(f"250 2.1.0 OK {_GSMTP}")

    async def cmd_rcpt(self, arg: str) -> None:
        if self.mail_from is None:
            await self.send(f"503 5.5.1 MAIL first. {_GSMTP}")
            return
        m = re.fullmatch(r"TO:\s*<([^>]*)>\s*(.*)", arg, re.IGNORECASE)
        if not m:
            await self.send(f"555 5.5.2 Syntax error. {_GSMTP}")
            return
        if len(self.rcpts) >= 100:
            await self.send(f"452 4.5.3 Your message has too many recipients. {_GSMTP}")
            return
        if await self.fault("rcpt", recipient=m.group(1)):
            return
        self.rcpts.append(m.group(1))
        await self.send(f"250 2.1.5 OK {_GSMTP}")

    async def cmd_data(self, arg: str) -> None:
        if self.mail_from is None:
            await self.send(f"503 5.5.1 MAIL first. {_GSMTP}")
            return
        if not self.rcpts:
            await self.send(f"503 5.5.1 RCPT first. {_GSMTP}")
            return
        if await self.fault("data"):
            return
        await self.send(f"354  Go ahead {_GSMTP}")
        body = await self._read_dot_stuffed()
        await self._finish(bytes(body), "DATA")

    async def _read_dot_stuffed(self) -> bytearray:
        """Lines until CRLF.CRLF with one leading dot removed per line."""
        body, at_line_start = bytearray(), True
        while True:
            try:
                line = await asyncio.wait_for(self.reader.readuntil(b"\n"), self.srv.idle_timeout)
            except asyncio.LimitOverrunError as e:
                part = await self.reader.readexactly(e.consumed)
                if at_line_start and part.startswith(b"."):
                    part = part[1:]
                body += part
                at_line_start = False
                continue
            except asyncio.TimeoutError:
                await self.send(TIMEOUT_CLOSING)
                self.s.closed = "server"
                raise _Close()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.s.closed = "client"
                raise _Close()
            if at_line_start:
                if line == b".\r\n":
                    return body
                if line.startswith(b"."):
                    line = line[1:]
            body += line
            at_line_start = line.endswith(b"\n")

    async def cmd_bdat(self, arg: str) -> None:
        if "CHUNKING" in self.srv.without:
            await self.send(f"502 5.5.1 Unrecognized command. {_GSMTP}")
            return
        m = re.fullmatch(r"(\d+)(\s+LAST)?", arg, re.IGNORECASE)
        if not m:
            await self.send(f"555 5.5.2 Syntax error. {_GSMTP}")
            return
        size, last = int(m.group(1)), bool(m.group(2))
        try:
            chunk = await self.reader.readexactly(size)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.s.closed = "client"
            raise _Close()
        if self.mail_from is None or not self.rcpts or self.bdat_failed:
            await self.send(f"503 5.5.1 {'MAIL' if self.mail_from is None else 'RCPT'} first. {_GSMTP}")
            return
        if not self.chunks and await self.fault("data"):
            self.bdat_failed = True
            return
        self.chunks += chunk
        if not last:
            await self.send(f"250 2.0.0 OK {size} octets received {_GSMTP}")
            return
        await self._finish(bytes(self.chunks), "BDAT")

    async def _finish(self, data: bytes, via: str) -> None:
        """The reply after the whole message: record it, accepted or not."""
        accepted, reply = False, ""
        try:
            if len(data) > self.srv.size_limit:
                reply = MESSAGE_TOO_LARGE
                await self.send(reply)
            elif not await self.fault("body"):
                reply = f"250 2.0.0 OK  {int(time.time())} {_GSMTP}"
                accepted = True
                await self.send(reply)
                self.s.messages += 1
            else:
                reply = self.last_fault_reply
        finally:
            self.srv._record(self, data, via, accepted, reply)
            self._reset_transaction()

    async def cmd_rset(self, arg: str) -> None:
        if await self.fault("rset"):
            return
        self._reset_transaction()
        await self.send(f"250 2.1.5 Flushed {_GSMTP}")

    async def cmd_noop(self, arg: str) -> None:
        await self.send(f"250 2.0.0 OK {_GSMTP}")

    async def cmd_quit(self, arg: str) -> None:
        self.srv._count("quits")
        if await self.fault("quit"):
            return
        await self.send(f"221 2.0.0 closing connection {_GSMTP}")
        self.s.closed = "quit"
        raise _Close()


_COMMANDS: dict[str, Callable] = {
    "EHLO": _Connection.cmd_ehlo, "HELO": _Connection.cmd_helo,
    "STARTTLS": _Connection.cmd_starttls, "AUTH": _Connection.cmd_auth,
    "MAIL": _Connection.cmd_mail, "RCPT": _Connection.cmd_rcpt,
    "DATA": _Connection.cmd_data, "BDAT": _Connection.cmd_bdat,
    "RSET": _Connection.cmd_rset, "NOOP": _Connection.cmd_noop,
    "QUIT": _Connection.cmd_quit,
}
_MECHANISMS: dict[str, Callable] = {
    "PLAIN": _Connection.sasl_plain, "LOGIN": _Connection.sasl_login,
    "XOAUTH2": _Connection.sasl_xoauth2,
}


# ---- the server ------------------------------------------------------------------
class FakeUpstream:
    """Gmail-like SMTP server on a background event-loop thread.

    accounts: {username: password}; tokens: {username: XOAUTH2 access token},
    or a function (username, token) -> bool (FakeTokenEndpoint.check_token).
    tls: "starttls" (port 587 style), "implicit" (465) or "none".
    """

    def __init__(self, *, accounts: Optional[dict] = None, tokens: Optional[dict] = None,
                 tls: str = "starttls", host: str = "127.0.0.1", port: int = 0,
                 pki: Optional[Pki] = None, cert_dir: Optional[str] = None,
                 record_dir: Optional[str] = None, size_limit: int = SIZE_LIMIT,
                 idle_timeout: float = 300.0, without: tuple = ()):
        if tls not in ("starttls", "implicit", "none"):
            raise ValueError(f"tls must be starttls|implicit|none, not {tls!r}")
        self.accounts = dict(accounts or {})
        self.tokens = tokens if callable(tokens) else dict(tokens or {})
        self.tls_mode, self.host, self.port = tls, host, port
        if pki is None and tls != "none":
            if cert_dir is None:
                raise ValueError("pki or cert_dir is needed for TLS")
            pki = make_test_pki(cert_dir)
        self.pki = pki
        self.record_dir = record_dir
        if record_dir:
            os.makedirs(record_dir, exist_ok=True)
        self.size_limit, self.idle_timeout = size_limit, idle_timeout
        # EHLO keywords not to offer (e.g. "CHUNKING", "PIPELINING"); their
        # commands are then refused like unknown ones.
        self.without = {w.upper() for w in without}
        self._lock = threading.Condition()
        self._faults: list[Fault] = []
        self._transactions: list[Transaction] = []
        self._sessions: list[Session] = []
        self._counters: dict = {}
        self._per_account: dict = {}
        self._sni: dict = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._server = None
        self._tasks: dict = {}  # task -> (Session, its StreamWriter)
        self._ctx: Optional[ssl.SSLContext] = None

    # -- lifecycle
    def start(self) -> "FakeUpstream":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._call(self._go_down(drop=True))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "FakeUpstream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def down(self, drop: bool = True) -> None:
        """Stop listening (connects are refused); drop=True also cuts every
        open connection, like a crashed server."""
        self._call(self._go_down(drop))

    def up(self) -> None:
        """Listen again on the same port."""
        self._call(self._listen())

    @property
    def is_up(self) -> bool:
        return self._server is not None

    @property
    def ca_file(self) -> Optional[str]:
        return self.pki.ca_file if self.pki else None

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        ctx = self._ssl_context() if self.tls_mode == "implicit" else None
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, ssl=ctx, limit=1 << 20, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _go_down(self, drop: bool) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if drop:
            # Abort the sockets as well as cancelling: Python 3.11's wait_for
            # can swallow a cancel that lands as a line arrives, and the
            # session would live on.
            for task, (session, writer) in list(self._tasks.items()):
                session.closed = session.closed or "down"
                writer.transport.abort()
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ctx is None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.pki.cert_file, self.pki.key_file)
            ctx.sni_callback = self._on_sni
            self._ctx = ctx
        return self._ctx

    def _on_sni(self, ssl_obj, server_name, ctx) -> None:
        self._sni[id(ssl_obj)] = server_name

    def _tls_established(self, session: Session, writer) -> None:
        session.tls = True
        ssl_obj = writer.get_extra_info("ssl_object")
        session.sni = self._sni.pop(id(ssl_obj), None)
        self._count("tls_sessions")

    async def _on_connect(self, reader, writer) -> None:
        peer = writer.get_extra_info("peername")
        with self._lock:
            session = Session(id=len(self._sessions) + 1, peer=peer[0] if peer else "?")
            self._sessions.append(session)
        self._count("connections")
        task = asyncio.current_task()
        self._tasks[task] = (session, writer)
        try:
            if self.tls_mode == "implicit":
                self._tls_established(session, writer)
            await _Connection(self, reader, writer, session).run()
        except asyncio.CancelledError:
            writer.transport.abort()
        finally:
            self._tasks.pop(task, None)

    # -- faults
    def add_fault(self, stage: str, reply: Optional[str] = None, **kw) -> Fault:
        f = Fault(stage, reply, **kw)
        with self._lock:
            self._faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, stage: str, account: Optional[str], recipient: Optional[str]) -> Optional[Fault]:
        with self._lock:
            for f in self._faults:
                if f.stage != stage or (f.times is not None and f.fired >= f.times):
                    continue
                if f.account is not None and f.account != account:
                    continue
                if f.recipient is not None and f.recipient != recipient:
                    continue
                f.fired += 1
                return f
        return None

    # -- accounts
    def _check(self, user: str, secret: str, kind: str) -> bool:
        if kind == "token" and callable(self.tokens):  # a FakeTokenEndpoint's check
            return self.tokens(user, secret)
        table = self.tokens if kind == "token" else self.accounts
        return user in table and table[user] == secret

    # -- records and counters
    def _count(self, name: str, account: Optional[str] = None) -> None:
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + 1
            if account is not None:
                per = self._per_account.setdefault(account, {})
                per[name] = per.get(name, 0) + 1
            self._lock.notify_all()

    def _session_closed(self, session: Session) -> None:
        with self._lock:
            session.closed = session.closed or "client"
            self._lock.notify_all()

    def _record(self, conn: _Connection, data: bytes, via: str, accepted: bool, reply: str) -> None:
        with self._lock:
            t = Transaction(seq=len(self._transactions) + 1, session=conn.s.id, account=conn.account,
                            mail_from=conn.mail_from or "", mail_params=list(conn.mail_params),
                            rcpts=list(conn.rcpts), data=data, via=via, accepted=accepted,
                            reply=reply, tls=conn.s.tls, at=time.time())
            self._transactions.append(t)
        if accepted:
            self._count("messages", conn.account)
        else:
            self._count("rejected", conn.account)
        if self.record_dir:
            self._write_record(t)

    def _write_record(self, t: Transaction) -> None:
        base = os.path.join(self.record_dir, f"{t.seq:06d}")
        meta = {k: v for k, v in dataclasses.asdict(t).items() if k != "data"}
        for suffix, payload in ((".eml", t.data), (".json", json.dumps(meta).encode())):
            with open(base + suffix + ".tmp", "wb") as f:
                f.write(payload)
            os.replace(base + suffix + ".tmp", base + suffix)

    # -- inspection (copies; safe from any thread)
    @property
    def messages(self) -> list[Transaction]:
        """Accepted transactions, in order."""
        with self._lock:
            return [t for t in self._transactions if t.accepted]

    @property
    def transactions(self) -> list[Transaction]:
        with self._lock:
            return list(self._transactions)

    @property
    def sessions(self) -> list[Session]:
        with self._lock:
            return [dataclasses.replace(s, commands=list(s.commands)) for s in self._sessions]

    def counter(self, name: str, account: Optional[str] = None) -> int:
        with self._lock:
            if account is None:
                return self._counters.get(name, 0)
            return self._per_account.get(account, {}).get(name, 0)

    def stats(self) -> dict:
        with self._lock:
            return {"counters": dict(self._counters),
                    "accounts": {a: dict(c) for a, c in self._per_account.items()}}

    def wait_for(self, predicate: Callable[["FakeUpstream"], bool], timeout: float) -> bool:
        """Block until predicate(self) holds (re-checked on every event) or the
        timeout passes; returns the last value."""
        deadline = time.monotonic() + timeout
        with self._lock:  # an RLock: the predicate may use the accessors
            while True:
                if predicate(self):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))

    def wait_messages(self, n: int, timeout: float = 30.0) -> list[Transaction]:
        self.wait_for(lambda s: len(s.messages) >= n, timeout)
        return self.messages


# ---- CLI ----------------------------------------------------------------------------
def _pairs(values: list, what: str) -> dict:
    out = {}
    for v in values or []:
        user, sep, secret = v.partition(":")
        if not sep:
            raise SystemExit(f"--{what} wants USER:SECRET, got {v!r}")
        out[user] = secret
    return out


def _load_faults(server: FakeUpstream, path: Optional[str], inline: list) -> None:
    """Faults as JSON objects with Fault's fields; a file holds a list."""
    specs = [json.loads(s) for s in inline or []]
    if path:
        with open(path) as f:
            specs += json.load(f)
    server.clear_faults()
    for spec in specs:
        server.add_fault(**spec)


def main(argv: Optional[list] = None) -> int:
    p = argparse.ArgumentParser(description="A fake smtp.gmail.com for tests.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    p.add_argument("--cert-dir", help="where the test CA and server cert live (made if absent)")
    p.add_argument("--account", action="append", help="USER:PASSWORD (repeatable)")
    p.add_argument("--token", action="append", help="USER:XOAUTH2_TOKEN (repeatable)")
    p.add_argument("--record-dir", help="write every transaction as NNNNNN.eml + NNNNNN.json")
    p.add_argument("--fault", action="append", help='JSON, e.g. {"stage":"rcpt","reply":"550 5.1.1 x"}')
    p.add_argument("--faults-file", help="JSON list of faults; re-read on SIGHUP")
    p.add_argument("--size-limit", type=int, default=SIZE_LIMIT)
    p.add_argument("--idle-timeout", type=float, default=300.0)
    p.add_argument("--without", action="append", default=[], help="an EHLO keyword not to offer (repeatable)")
    a = p.parse_args(argv)
    cert_dir = a.cert_dir or (tempfile.mkdtemp(prefix="fake-upstream-") if a.tls != "none" else None)
    server = FakeUpstream(accounts=_pairs(a.account, "account"), tokens=_pairs(a.token, "token"),
                          tls=a.tls, host=a.host, port=a.port, cert_dir=cert_dir,
                          record_dir=a.record_dir, size_limit=a.size_limit, idle_timeout=a.idle_timeout,
                          without=tuple(a.without))
    _load_faults(server, a.faults_file, a.fault)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: server.down())
    signal.signal(signal.SIGUSR2, lambda *_: server.up())
    signal.signal(signal.SIGHUP, lambda *_: _load_faults(server, a.faults_file, a.fault))
    server.start()
    print(json.dumps({"host": a.host, "port": server.port, "tls": a.tls, "ca_file": server.ca_file}),
          flush=True)
    while not stop.wait(0.5):
        pass
    print(json.dumps(server.stats()), file=sys.stderr, flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
