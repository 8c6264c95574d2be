"""`relaypool queue ...` and `relaypool pool ...` against a running server:
the real binary twice (the server from harness.Relay, then the CLI as a
separate process talking to its admin API over HTTP).

The server's upstream is a closed local port (the harness default), so a
submitted message fails its first attempt and stays queued, deferred for an
hour: the queue commands have something to list, show, retry and delete.
Exit codes (SPEC.md): 0 ok, 1 operation failed, 2 usage, 3 server unreachable
or token refused.

Environment: RELAYPOOL_BIN, RP_SOURCE_DIR (see conftest.py / harness.py).
"""

import json
import os
import re
import smtplib
import subprocess
import time

import pytest

import harness
from harness import PASSWORD, USER, queued_id

ACCOUNTS = ["one@agency.example", "two@agency.example"]
UNKNOWN_ID = "0123456789abcdef"


# ---- helpers -----------------------------------------------------------------------
def cli(*args, relay=None, token_env=None):
    """Runs the CLI; --admin points at `relay` unless given. Returns CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items() if k != "RELAYPOOL_ADMIN_TOKEN"}
    if token_env is not None:
        env["RELAYPOOL_ADMIN_TOKEN"] = token_env
    argv = [harness.BIN, *args]
    if relay is not None:
        argv += ["--admin", f"http://127.0.0.1:{relay.metrics_port}"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


def ok(*args, relay=None, **kw):
    r = cli(*args, relay=relay, **kw)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\n{r.stderr}"
    assert r.stderr == ""
    return r.stdout


def listing(text):
    """(header columns, rows as column lists) of an aligned listing."""
    lines = text.splitlines()
    assert lines, "no header line"
    return lines[0].split(), [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


def queue_json(relay):
    return json.loads(ok("queue", "list", "--json", relay=relay))["messages"]


def wait_message(relay, qid, predicate, timeout=20):
    """Polls the JSON listing until the message satisfies `predicate`; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in queue_json(relay) if m["id"] == qid]
        if found and predicate(found[0]):
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"message {qid} never matched; listing: {found}\n{relay.log()[-3000:]}")
        time.sleep(0.1)


def deferred_after(attempts):
    return lambda m: m["state"] == "deferred" and m["attempts"] >= attempts


def submit(relay, rcpts=("someone@example.net", "other@example.net")):
    c = smtplib.SMTP("127.0.0.1", relay.port("submission"), local_hostname="app.client.example", timeout=30)
    try:
        c.starttls(context=relay.pki.client_context())
        c.login(USER, PASSWORD)
        assert c.mail("app@client.example")[0] == 250
        for r in rcpts:
            assert c.rcpt(r)[0] == 250
        code, reply = c.data(harness.message("admin"))
        assert code == 250, reply
        return queued_id(b"250 " + reply)
    finally:
        c.quit()


def pool_config(relay_workdir, extra=None):
    config = {"pool": {"state": os.path.join(str(relay_workdir), "pool.state"),
                       "accounts": [{"username": a, "password": "unused", "daily_limit": 2000}
                                    for a in ACCOUNTS]}}
    config.update(extra or {})
    return config


@pytest.fixture
def relay(make_relay, tmp_path):
    return make_relay(extra=pool_config(tmp_path / "relay0"), listeners=[{"name": "submission",
                                                                          "tls": "starttls"}])


@pytest.fixture
def queued(relay):
    """A message that failed one attempt and waits (deferred) for the next."""
    qid = submit(relay)
    wait_message(relay, qid, deferred_after(1))
    return qid


# ---- queue ---------------------------------------------------------------------------
def test_queue_list_prints_a_header_then_one_line_per_message_id_first(relay, queued):
    header, rows = listing(ok("queue", "list", relay=relay))
    assert header == ["ID", "AGE", "STATE", "ATTEMPTS", "SENDER", "RECIPIENTS", "LAST-ERROR"]
    assert len(rows) == 1
    row = rows[0]
    assert row[0] == queued
    assert re.fullmatch(r"\d+s|\d+m\d\ds", row[1])
    assert row[2] == "deferred"
    assert int(row[3]) >= 1
    assert row[4] == "<app@client.example>"
    assert row[5] == "someone@example.net,other@example.net"
    assert row[6] != "-"  # why the attempt failed


def test_queue_list_json_and_options_before_the_command_words(relay, queued):
    r = cli("--json", "--admin", f"http://127.0.0.1:{relay.metrics_port}", "queue", "list")
    assert r.returncode == 0, r.stderr
    messages = json.loads(r.stdout)["messages"]
    assert [m["id"] for m in messages] == [queued]
    m = messages[0]
    assert m["sender"] == "app@client.example"
    assert m["recipients"] == ["someone@example.net", "other@example.net"]
    assert m["state"] == "deferred"
    assert m["attempts"] >= 1


def test_queue_list_of_an_empty_queue_is_the_header_alone(relay):
    header, rows = listing(ok("queue", "list", relay=relay))
    assert header[0] == "ID"
    assert rows == []
    assert json.loads(ok("queue", "list", "--json", relay=relay)) == {"messages": [], "total": 0}


def test_queue_listing_is_paged_with_a_limit_and_an_after_cursor(relay):
    """GET queue?limit=N&after=ID pages the queue oldest first (docs/admin.md);
    the pages join up to the whole queue, in order, and the CLI lists it all."""
    ids = [submit(relay, rcpts=("someone@example.net",)) for _ in range(5)]
    pages, after = [], None
    while True:
        path = "/api/v1/queue?limit=2" + (f"&after={after}" if after else "")
        code, body = relay.http(path)
        assert code == 200, body
        page = json.loads(body)
        assert page["total"] == 5
        assert 1 <= len(page["messages"]) <= 2
        pages.append([m["id"] for m in page["messages"]])
        for m in page["messages"]:
            assert m["sender"] == "app@client.example"
            assert m["recipients"] == ["someone@example.net"]
        after = page.get("next_after")
        if after is None:
            break
        assert after == pages[-1][-1]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sum(pages, []) == sorted(ids) == ids  # ids grow with arrival
    assert [m["id"] for m in queue_json(relay)] == ids
    # The default page and a cursor past the end.
    assert [m["id"] for m in json.loads(relay.http("/api/v1/queue")[1])["messages"]] == ids
    last = json.loads(relay.http(f"/api/v1/queue?after={ids[-1]}")[1])
    assert last["messages"] == [] and last["total"] == 5 and "next_after" not in last


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=", "after=..%2Fx", "after=a%00"])
def test_queue_listing_refuses_a_bad_limit_or_cursor(relay, query):
    code, body = relay.http(f"/api/v1/queue?{query}")
    assert code == 400, body
    assert "error" in json.loads(body)


def test_queue_show_prints_envelope_recipients_and_history(relay, queued):
    out = ok("queue", "show", queued, relay=relay)
    assert re.search(rf"^id: +{queued}$", out, re.M)
    assert re.search(r"^state: +deferred$", out, re.M)
    assert re.search(r"^  mail from: +<app@client\.example>$", out, re.M)
    assert re.search(r"^  auth user: +demo$", out, re.M)
    section = out[out.index("recipients:\n"):out.index("history:")]
    header, rows = listing(section.split("\n", 1)[1])
    assert header == ["ADDRESS", "STATUS", "ATTEMPTS", "ACCOUNT", "LAST-REPLY"]
    assert [r[0] for r in rows] == ["someone@example.net", "other@example.net"]
    history = out[out.index("history:"):]
    assert history.startswith("history:\n  AT")  # at least the failed attempt
    assert len(history.splitlines()) >= 3

    shown = json.loads(ok("queue", "show", queued, "--json", relay=relay))
    assert shown["id"] == queued
    assert shown["envelope"]["mail_from"] == "app@client.example"
    assert [r["address"] for r in shown["recipients"]] == ["someone@example.net", "other@example.net"]
    assert len(shown["history"]) >= 1


def test_queue_retry_makes_a_deferred_message_due_now(relay, queued):
    before = wait_message(relay, queued, deferred_after(1))
    assert before["next_attempt_in_seconds"] > 60  # retried hourly: nothing would happen soon
    assert ok("queue", "retry", queued, relay=relay) == "retried 1 message\n"
    after = wait_message(relay, queued, deferred_after(before["attempts"] + 1))
    assert after["attempts"] == before["attempts"] + 1


def test_queue_retry_all(relay, queued):
    second = submit(relay, rcpts=("third@example.net",))
    wait_message(relay, second, deferred_after(1))
    counts = {m["id"]: m["attempts"] for m in queue_json(relay)}
    assert ok("queue", "retry", "--all", relay=relay) == "retried 2 messages\n"
    for qid in (queued, second):
        wait_message(relay, qid, deferred_after(counts[qid] + 1))


def test_queue_delete_drops_the_message(relay, queued):
    path = os.path.join(relay.queue_dir, "queue", queued)
    assert os.path.exists(path)
    assert ok("queue", "delete", queued, relay=relay) == f"deleted {queued}\n"
    assert listing(ok("queue", "list", relay=relay))[1] == []
    assert not os.path.exists(path)
    r = cli("queue", "show", queued, relay=relay)
    assert r.returncode == 1
    assert "no such message" in r.stderr
    relay.wait_log(re.escape(queued) + r".*delet|delet.*" + re.escape(queued))  # logged
    assert re.search(r'^relaypool_bounces_total\{reason="deleted"\} 1(\.0)?$', relay.metrics(), re.M)  # counted


@pytest.mark.parametrize("args", [["queue", "show", UNKNOWN_ID], ["queue", "retry", UNKNOWN_ID],
                                  ["queue", "delete", UNKNOWN_ID], ["queue", "show", "../../etc/passwd"],
                                  ["queue", "delete", "not-an-id!"]])
def test_unknown_or_malformed_message_id_exits_1(relay, args):
    r = cli(*args, relay=relay)
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("relaypool: queue ")
    assert re.search(r"no such message|malformed message id", r.stderr)


# ---- pool ----------------------------------------------------------------------------
def pool_rows(relay):
    header, rows = listing(ok("pool", "status", relay=relay))
    assert header == ["NAME", "STATE", "SENT/LIMIT", "COOLDOWN-UNTIL", "WARMUP", "LAST-ERROR"]
    return {r[0]: r for r in rows}


def test_pool_status_one_line_per_account_with_sent_over_limit(relay):
    rows = pool_rows(relay)
    assert sorted(rows) == sorted(ACCOUNTS)
    for row in rows.values():
        assert re.fullmatch(r"\d+/2000", row[2])
    accounts = json.loads(ok("pool", "status", "--json", relay=relay))["accounts"]
    assert sorted(a["name"] for a in accounts) == sorted(ACCOUNTS)
    assert all(a["limit"] == 2000 for a in accounts)


def test_pool_pause_and_resume(relay):
    name = ACCOUNTS[1]
    assert ok("pool", "pause", name, relay=relay) == f"{name}: paused\n"
    assert pool_rows(relay)[name][1] == "paused"
    assert pool_rows(relay)[ACCOUNTS[0]][1] != "paused"
    out = ok("pool", "resume", name, relay=relay)
    assert out.startswith(f"{name}: ") and out != f"{name}: paused\n"
    assert pool_rows(relay)[name][1] != "paused"


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_unknown_account_exits_1(relay, command):
    r = cli("pool", command, "nobody@agency.example", relay=relay)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "no such account" in r.stderr


# ---- reachability, token, raw HTTP ---------------------------------------------------
@pytest.mark.parametrize("args", [["queue", "list"], ["pool", "status"], ["queue", "retry", "--all"]])
def test_server_down_exits_3(make_relay, tmp_path, args):
    relay = make_relay(extra=pool_config(tmp_path / "relay0"))
    assert relay.stop() == 0
    r = cli(*args, relay=relay)
    assert r.returncode == 3
    assert r.stdout == ""
    assert f"cannot reach the admin API at http://127.0.0.1:{relay.metrics_port}" in r.stderr


@pytest.fixture
def token_relay(make_relay, tmp_path):
    token_file = tmp_path / "admin.token"
    token_file.write_text("s3cret-admin-token\n")
    return make_relay(extra=pool_config(tmp_path / "relay0", {"admin": {"token_file": str(token_file)}}))


def curl_status(relay, path, token=None, method="GET"):
    argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
            f"http://127.0.0.1:{relay.metrics_port}{path}"]
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    return int(subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout)


def test_token_missing_or_wrong_exits_3_and_the_api_answers_401(token_relay):
    relay = token_relay
    r = cli("pool", "status", relay=relay)
    assert r.returncode == 3
    assert "needs a token" in r.stderr
    for args, env in [(["--token", "wrong"], None), ([], "wrong"), (["--token", "s3cret-admin-token-"], None)]:
        r = cli("queue", "list", *args, relay=relay, token_env=env)
        assert r.returncode == 3
        assert "refused the token" in r.stderr
        assert "wrong" not in r.stderr and "s3cret" not in r.stderr  # the token is never echoed
    assert curl_status(relay, "/api/v1/queue") == 401
    assert curl_status(relay, "/api/v1/pool", token="wrong") == 401
    assert curl_status(relay, "/api/v1/queue/retry", method="POST") == 401
    assert curl_status(relay, "/api/v1/pool", token="s3cret-admin-token") == 200
    # Guessing shows in the log: one line a minute with the count, never the token.
    log = relay.log()
    assert log.count("admin request with a missing or wrong token") == 1
    assert "s3cret-admin-token-" not in log and "token=wrong" not in log


def test_right_token_from_option_or_environment(token_relay):
    relay = token_relay
    assert listing(ok("queue", "list", "--token", "s3cret-admin-token", relay=relay))[0][0] == "ID"
    assert listing(ok("pool", "status", relay=relay, token_env="s3cret-admin-token"))[0][0] == "NAME"
    # --token wins over the environment
    assert cli("pool", "status", "--token", "s3cret-admin-token", relay=relay, token_env="wrong").returncode == 0


def test_metrics_health_and_readiness_need_no_token(token_relay):
    for path in ("/metrics", "/healthz"):
        assert curl_status(token_relay, path) == 200
    assert curl_status(token_relay, "/readyz") in (200, 503)  # never 401


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/api/v1/nothing", 404),
    ("GET", "/api/v1/queue/abc/retry/x", 404),
    ("POST", "/api/v1/queue", 405),
    ("GET", "/api/v1/pool/one@agency.example/pause", 405),
    ("GET", "/api/v1/queue/..%2F..%2Fetc", 400),
    ("GET", f"/api/v1/queue/{UNKNOWN_ID}", 404),
    ("POST", "/api/v1/pool/one%40agency.example/pause", 200),
])
def test_admin_api_answers_json_with_http_status(relay, method, path, status):
    code, body = relay.http(path, method=method, body=b"" if method == "POST" else None)
    assert code == status
    parsed = json.loads(body)
    assert ("error" in parsed) == (status != 200)
