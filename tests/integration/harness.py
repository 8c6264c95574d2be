"""Shared helpers for the integration tests: the real relaypool binary over
real sockets and real TLS.

- make_pki(dir): a test CA and a server certificate (localhost, 127.0.0.1)
  made with the `openssl` command line tool.
- Relay(workdir, pki, extra={...}): writes a config YAML (the defaults below,
  deep-merged with `extra`), starts `RELAYPOOL_BIN serve` on free ports,
  waits until every listener and the metrics port accept connections,
  stops it with SIGTERM (stop() returns the exit code), kill(), reload()
  (rewrite + SIGHUP), log() / wait_log(), http(), spooled(id).
- SMTP helpers: plain/TLS clients trusting the test CA, raw line-level
  conversations (for pipelining and injection cases), PROXY v1/v2 headers.

Nothing here asserts behaviour: the test files do. Used by test_submission,
test_security, test_http and the delivery tests (engineer E).
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import re
import signal
import socket
import ssl
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

BIN = os.environ.get("RELAYPOOL_BIN", "relaypool")
SOURCE_DIR = os.environ.get("RP_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

USER = "demo"
PASSWORD = "demo-password"


# ---- ports, PKI, passwords ---------------------------------------------------------
_PORT_RANDOM = random.SystemRandom()  # a test's random.seed() must not make picks repeat
_ports_given: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range (32768-60999 by
    default), so the many client connections of parallel tests cannot take
    it between now and relaypool's bind (that raced under ctest -j2). Never
    the same port twice in one process: a port is free until its relay
    binds it, so two picks for one relay's config could coincide (its
    metrics address once clashed with its submission listener)."""
    low, _ = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    for _ in range(200):
        port = _PORT_RANDOM.randrange(10000, max(10001, low))
        if port in _ports_given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    with socket.socket() as s:  # fall back to the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pki:
    def __init__(self, directory):
        self.dir = str(directory)
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.cert_file = os.path.join(self.dir, "server.pem")
        self.key_file = os.path.join(self.dir, "server.key")

    def client_context(self) -> ssl.SSLContext:
        """A client context that verifies the server against the test CA."""
        return ssl.create_default_context(cafile=self.ca_file)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(directory, names=("localhost",)) -> Pki:
    """A CA and a server certificate (EC P-256) for `names`, 127.0.0.1 and ::1, signed by it."""
    pki = Pki(directory)
    os.makedirs(pki.dir, exist_ok=True)
    d = pki.dir
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
             "-subj", "/CN=relaypool test CA", "-keyout", pki.ca_key, "-out", pki.ca_file,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    csr = os.path.join(d, "server.csr")
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
             f"/CN={names[0]}", "-keyout", pki.key_file, "-out", csr, cwd=d)
    ext = os.path.join(d, "server.ext")
    san = ",".join([f"DNS:{n}" for n in names] + ["IP:127.0.0.1", "IP:::1"])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", pki.ca_file, "-CAkey", pki.ca_key, "-CAcreateserial", "-days", "30",
             "-out", pki.cert_file, "-extfile", ext, cwd=d)
    return pki


_hash_cache: dict[str, str] = {}


def hash_password(password: str) -> str:
    """A users[].password_hash made by `relaypool hash-password` (cached)."""
    if password not in _hash_cache:
        out = subprocess.run([BIN, "hash-password"], input=password + "\n", capture_output=True, text=True,
                             check=True, timeout=60)
        _hash_cache[password] = out.stdout.strip().splitlines()[-1]
    return _hash_cache[password]


def deep_merge(base: dict, extra: dict) -> dict:
    """`extra` merged into a copy of `base`: dicts recursively, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---- a small filesystem to fill -----------------------------------------------------
@contextlib.contextmanager
def tmpfs(tmp_path, size: str):
    """A tmpfs of `size` mounted at tmp_path/tmpfs for the test (unmounted
    after it); the test is skipped, with the reason, where mounting is not
    permitted."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


# ---- the relay process ---------------------------------------------------------------
class Relay:
    """relaypool serve with a generated config in `workdir`.

    Default listeners (ports chosen free): submission (starttls) and smtps
    (implicit). Pass `listeners=[...]` (each a config mapping; "address" may
    be omitted to get a free port) to replace them; `extra` is deep-merged
    into the whole config last (lists are replaced, not merged).
    The queue lives in workdir/spool. The default upstream is a closed local
    port: nothing leaves the machine and accepted messages stay in the queue
    (deferred, retried hourly) where spooled() can read them. E's delivery
    tests override `upstream` with the fake Gmail server.
    """

    def __init__(self, workdir, pki: Pki, extra: dict | None = None, listeners: list | None = None,
                 users: dict | None = None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.pki = pki
        self.users = users if users is not None else {USER: PASSWORD}
        self.metrics_port = free_port()
        self.closed_port = free_port()  # nothing listens there
        if listeners is None:
            listeners = [
                {"name": "submission", "tls": "starttls"},
                {"name": "smtps", "tls": "implicit"},
            ]
        self.listeners = []
        for listener in listeners:
            listener = dict(listener)
            listener.setdefault("address", f"127.0.0.1:{free_port()}")
            self.listeners.append(listener)
        self.extra = extra or {}
        self.config_path = os.path.join(self.workdir, "relaypool.yaml")
        self.log_path = os.path.join(self.workdir, "relaypool.log")
        self.queue_dir = os.path.join(self.workdir, "spool")
        self.proc = None
        self.starts = 0
        self.config = self.build_config(self.extra)
        self.write_config(self.config)

    # -- config
    def base_config(self) -> dict:
        return {
            "hostname": "relay.test",
            "listeners": self.listeners,
            "tls": {"certificate": self.pki.cert_file, "private_key": self.pki.key_file, "min_version": "1.2"},
            "users": [{"username": u, "password_hash": hash_password(p)} for u, p in self.users.items()],
            "limits": {"auth_failure_delay": "500ms", "idle_timeout": "60s"},
            "queue": {"directory": self.queue_dir, "retry_initial": "1h", "retry_max": "1h"},
            "upstream": {"host": "127.0.0.1", "port": self.closed_port, "tls": "none", "allow_insecure": True},
            "pool": {"state": os.path.join(self.workdir, "pool.state"),
                     "accounts": [{"username": "sender@agency.example", "password": "unused"}]},
            "metrics": {"address": f"127.0.0.1:{self.metrics_port}"},
            "logging": {"level": "debug"},
        }

    def build_config(self, extra: dict) -> dict:
        return deep_merge(self.base_config(), extra)

    def write_config(self, config: dict | str):
        text = config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False)
        with open(self.config_path, "w") as f:
            f.write(text)

    def port(self, listener: str = "submission") -> int:
        for entry in self.listeners:
            if entry["name"] == listener:
                return int(entry["address"].rsplit(":", 1)[1])
        raise KeyError(listener)

    # -- process
    def start(self, timeout: float = 30) -> "Relay":
        self.starts += 1
        log_start = len(self.log())
        with open(self.log_path, "a") as log:
            log.write(f"==== start {self.starts}\n")
            log.flush()
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
            self.proc = subprocess.Popen([BIN, "serve", "--config", self.config_path], stdout=log,
                                         stderr=subprocess.STDOUT, cwd=self.workdir, env=env)
        ports = [self.port(entry["name"]) for entry in self.listeners] + [self.metrics_port]
        deadline = time.monotonic() + timeout
        for port in ports:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"relaypool exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"relaypool did not listen on {port}:\n{self.log()[-4000:]}")
                    time.sleep(0.05)
        # The listeners answer while the queue is recovered; mail is taken
        # once the engine runs ("relaypool started").
        while "relaypool started" not in self.log()[log_start:]:
            if self.proc.poll() is not None:
                raise AssertionError(f"relaypool exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"relaypool did not finish starting:\n{self.log()[-4000:]}")
            time.sleep(0.02)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30):
        """SIGTERM and wait; returns the exit code (the tests assert 0)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("relaypool did not stop on SIGTERM:\n" + self.log()[-4000:])
        return self.proc.returncode

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()

    def reload(self, extra: dict | None = None, text: str | None = None):
        """Rewrite the config (merged `extra`, or raw `text`) and send SIGHUP."""
        if text is not None:
            self.write_config(text)
        else:
            self.config = self.build_config(deep_merge(self.extra, extra or {}))
            self.write_config(self.config)
        self.signal(signal.SIGHUP)

    # -- logs
    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 10, start: int = 0) -> re.Match:
        """Waits until `pattern` (a regex) matches the log after offset `start`."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log()[start:])
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"log never matched {pattern!r}:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    # -- HTTP
    def http(self, path: str, method: str = "GET", token: str | None = None, body: bytes | None = None):
        """(status, body text) of a request to the metrics/admin endpoint."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.metrics_port}{path}", method=method, data=body)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> str:
        return self.http("/metrics")[1]

    def sessions_active(self) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith("relaypool_sessions_active{"):
                total += float(line.split()[-1])
        return total

    def wait_idle(self, timeout: float = 10):
        """Waits until no SMTP session is open (e.g. start()'s port probes are gone)."""
        deadline = time.monotonic() + timeout
        while self.sessions_active() > 0:
            if time.monotonic() > deadline:
                raise AssertionError("sessions still open:\n" + self.log()[-3000:])
            time.sleep(0.05)
        time.sleep(0.1)

    # -- spool
    def spooled(self, queue_id: str, timeout: float = 5):
        """(metadata dict, message bytes) of a committed message in the queue.

        The file is the spool format of docs/spool.md: "key value" lines up
        to an `end SIZE CHECKSUM` line, then exactly the stored message bytes.
        A message may leave the queue once delivered; tests that read it use a
        sandbox upstream with no usable account or read it promptly.
        """
        path = os.path.join(self.queue_dir, "queue", queue_id)
        deadline = time.monotonic() + timeout
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(path, "rb") as f:
            data = f.read()
        meta: dict = {}
        offset = 0
        while True:
            nl = data.index(b"\n", offset)
            line = data[offset:nl].decode()
            offset = nl + 1
            key, _, value = line.partition(" ")
            meta.setdefault(key, []).append(value)
            if key == "end":
                size = int(value.split()[0])
                return meta, data[offset:offset + size]


# ---- SMTP helpers --------------------------------------------------------------------
QUEUED_RE = re.compile(rb"250 2\.0\.0 Ok: queued as (\S+)")


def queued_id(reply: bytes) -> str:
    m = QUEUED_RE.search(reply)
    assert m, f"no 'queued as' in {reply!r}"
    return m.group(1).decode()


class Raw:
    """A line-level SMTP client over a plain or TLS socket, for the cases
    smtplib hides (pipelining in one send(), injection, garbage, PROXY)."""

    def __init__(self, port: int, tls_context: ssl.SSLContext | None = None, timeout: float = 15,
                 prefix: bytes = b"", read_greeting: bool = True, source: str | None = None):
        # source: the local address to connect from ("127.0.0.2": Linux routes all of 127/8 to lo),
        # to be a second client address on loopback.
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if prefix:
            self.sock.sendall(prefix)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname="localhost")
        self.buffer = b""
        self.greeting = self.reply() if read_greeting else None

    def send(self, data: bytes):
        self.sock.sendall(data)

    def starttls(self, context: ssl.SSLContext):
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def line(self) -> bytes | None:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                return None
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def reply(self) -> bytes | None:
        """One complete (possibly multi-line) reply, CRLFs kept; None on EOF."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                return b"\r\n".join(lines) + b"\r\n" if lines else None
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return b"\r\n".join(lines) + b"\r\n"

    def command(self, line: bytes) -> bytes | None:
        self.send(line + b"\r\n")
        return self.reply()

    def closed(self, timeout: float = 5) -> bool:
        """True when the server closes the connection (no more bytes) within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            while True:
                if not self._fill():
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def settle_before_fd_limit(relay):
    """Before a test starves the process of descriptors: a greeting on each SMTP listener
    means its accept loop has taken every earlier connection (start()'s probes) from the
    backlog (accept is FIFO). Otherwise a probe accepted late builds the process's first
    Connection while no descriptor is free, and UBSan's first dynamic-type check of it
    (which tests memory readability through a pipe) fails with a false "invalid vptr"."""
    for listener in relay.listeners:
        tls = relay.pki.client_context() if listener["tls"] == "implicit" else None
        raw = Raw(relay.port(listener["name"]), tls_context=tls)
        assert raw.greeting.startswith(b"220 ")
        raw.close()
    relay.wait_idle()


def auth_plain(user: str = USER, password: str = PASSWORD) -> bytes:
    import base64
    return b"AUTH PLAIN " + base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())


def proxy_v1(src: str, dst: str = "127.0.0.1", sport: int = 40000, dport: int = 587) -> bytes:
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src: str, dst: str = "127.0.0.1", sport: int = 40000, dport: int = 587) -> bytes:
    if ":" in src:
        addresses = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        family = 0x21  # AF_INET6, STREAM
    else:
        addresses = socket.inet_aton(src) + socket.inet_aton(dst)
        family = 0x11  # AF_INET, STREAM
    payload = addresses + struct.pack("!HH", sport, dport)
    return PROXY_V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(payload)) + payload


def message(subject: str = "test", body: bytes = b"hello\r\n") -> bytes:
    return (b"From: App <app@client.example>\r\nTo: someone@example.net\r\nSubject: " + subject.encode() +
            b"\r\nDate: Wed, 25 Nov 2026 19:00:00 +0000\r\nMessage-ID: <" + subject.encode() +
            b"@client.example>\r\n\r\n" + body)
