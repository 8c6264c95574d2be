"""A real redis-server for the shared pool state tests, started and stopped
by the test itself: a free port on 127.0.0.1, its own directory, no RDB
snapshots, the append-only file fsync'd on every write (so a kill -9 of
Redis loses no reservation it confirmed), and the same directory on
restart (the data comes back from the AOF).

Tests skip, saying why, when redis-server is not installed
(scripts/install-deps.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import harness


def require():
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server is not installed (scripts/install-deps.sh installs it)")


class RedisServer:
    """`pki` (harness.make_pki): TLS only (rediss://, clients not asked for
    certificates); `password`: requirepass."""

    def __init__(self, directory, pki=None, password=None):
        require()
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.proc = None
        self.pki = pki
        self.password = password

    @property
    def url(self) -> str:
        scheme = "rediss" if self.pki else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def _cli_args(self):
        args = ["-h", "127.0.0.1", "-p", str(self.port)]
        if self.pki:
            args += ["--tls", "--cacert", self.pki.ca_file]
        if self.password:
            args += ["--no-auth-warning", "-a", self.password]
        return args

    def start(self, timeout: float = 15) -> "RedisServer":
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"]
        if self.pki:
            args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.pki.cert_file,
                     "--tls-key-file", self.pki.key_file, "--tls-ca-cert-file", self.pki.ca_file,
                     "--tls-auth-clients", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.cli("PING") == "PONG":
                    return self
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def kill(self):
        """kill -9: no shutdown save, the AOF is what survives."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def cli(self, *args) -> str:
        out = subprocess.run(["redis-cli", *self._cli_args(), *map(str, args)],
                             capture_output=True, text=True, timeout=10)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def port_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0
