"""`relaypool health [--url URL] [--ready]` as a real process against a real
server (the image's HEALTHCHECK): exit 0 with one line on stdout when
/healthz (or /readyz) answers 200; exit 1 with the reason on stderr when it
answers anything else, nothing listens, or nothing answers in time; exit 2
for a bad URL. Also against HTTP servers that are not relaypool.

Environment: RELAYPOOL_BIN, RP_SOURCE_DIR (see conftest.py / harness.py).
"""

import http.server
import os
import socket
import subprocess
import threading

import pytest

import harness

ACCOUNT = "only@agency.example"


def health(*args):
    env = {k: v for k, v in os.environ.items() if k != "RELAYPOOL_ADMIN_TOKEN"}
    return subprocess.run([harness.BIN, *args], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def relay(make_relay, tmp_path):
    return make_relay(extra={"pool": {"accounts": [{"username": ACCOUNT, "password": "unused"}]}},
                      listeners=[{"name": "submission", "tls": "starttls"}])


def url(relay):
    return f"http://127.0.0.1:{relay.metrics_port}"


def test_healthy_server_exits_0_naming_the_endpoint(relay):
    r = health("health", "--url", url(relay))
    assert (r.returncode, r.stdout, r.stderr) == (0, f"healthy: {url(relay)}/healthz\n", "")


@pytest.mark.parametrize("argv", [
    ["health", "--ready", "--url", "{url}"],
    ["--ready", "--url={url}", "health"],
    ["health", "--admin", "{url}", "--ready"],  # the admin commands' option works too
])
def test_ready_server_exits_0(relay, argv):
    r = health(*[a.format(url=url(relay)) for a in argv])
    assert (r.returncode, r.stdout, r.stderr) == (0, f"ready: {url(relay)}/readyz\n", "")


def test_not_ready_exits_1_with_the_servers_reason(relay):
    paused = health("pool", "pause", ACCOUNT, "--admin", url(relay))
    assert paused.returncode == 0, paused.stderr
    status, body = relay.http("/readyz")
    assert status == 503
    reason = body.strip()
    assert reason  # the server says why
    r = health("health", "--ready", "--url", url(relay))
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == f"not ready: {url(relay)}/readyz answered HTTP 503: {reason}\n"
    # Liveness does not depend on the pool.
    assert health("health", "--url", url(relay)).returncode == 0
    assert health("pool", "resume", ACCOUNT, "--admin", url(relay)).returncode == 0
    assert health("health", "--ready", "--url", url(relay)).returncode == 0


def test_nothing_listening_exits_1():
    port = harness.free_port()
    r = health("health", "--url", f"http://127.0.0.1:{port}")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith(f"unhealthy: http://127.0.0.1:{port}/healthz: cannot reach relaypool (connect: ")


def test_silent_server_times_out_with_exit_1():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts (in the backlog), never answers
        port = listener.getsockname()[1]
        r = health("health", "--ready", "--url", f"http://127.0.0.1:{port}")
    assert r.returncode == 1
    assert r.stderr.startswith(f"not ready: http://127.0.0.1:{port}/readyz: ")
    assert "timed out" in r.stderr


class _Foreign(http.server.BaseHTTPRequestHandler):
    """Some other web server on the port: 404 with a body that tries to drive the terminal."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = b"no such page\x1b[2J\r\nsecond line"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_foreign_http_server_exits_1_with_its_status_and_a_one_line_reason():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Foreign)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        r = health("health", "--url", f"http://127.0.0.1:{port}/prefix/")
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 1
    assert r.stderr == f"unhealthy: http://127.0.0.1:{port}/prefix/healthz answered HTTP 404: no such page [2J second line\n"


@pytest.mark.parametrize("bad", ["127.0.0.1:9090", "https://127.0.0.1:9090", "http://h:0"])
def test_bad_url_is_a_usage_error(bad):
    r = health("health", "--url", bad)
    assert r.returncode == 2
    assert r.stderr.startswith(f'relaypool: --url "{bad}": ')


def test_extra_words_are_a_usage_error():
    r = health("health", "now")
    assert r.returncode == 2
    assert 'unexpected argument "now" after health' in r.stderr


def test_help_lists_health():
    out = health("--help").stdout
    assert "relaypool health [--url URL] [--ready]" in out
    assert "--ready" in out and "--url URL" in out
