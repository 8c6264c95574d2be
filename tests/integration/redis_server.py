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
    def __init__(self, directory):
        require()
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = harness.free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15) -> "RedisServer":
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT)
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
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *map(str, args)],
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
