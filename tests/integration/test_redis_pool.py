"""Shared pool state in Redis: several relaypool processes, one
real redis-server (started and stopped here), the fake Gmail upstream
counting what actually arrives.

What must hold (SPEC.md "Delivery"): instances sharing `pool.state:
redis://...` together never exceed an account's limit under concurrent
load; a pause on one is seen by the other, also one made while Redis was
down; Redis killed (kill -9) and
restarted mid-run loses no mail and causes no violation, while it is down
intake goes on, /readyz says why and relaypool_state_backend_up is 0; a
reservation left by a kill -9'd instance expires (and still counts).
"""

import threading
import time
import urllib.parse

import pytest

from fake_upstream import FakeUpstream
from redis_server import RedisServer
from test_pool import PoolRelay, per_account, settle, submit_many

ACCOUNTS = {f"acct{i}@agency.example": f"pw-{i}" for i in range(4)}


@pytest.fixture
def upstream(pki):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as up:
        yield up


@pytest.fixture
def redis(tmp_path):
    with RedisServer(tmp_path / "redis") as r:
        yield r


def shared(redis, **options):
    query = urllib.parse.urlencode({"poll_ms": 100, **options})
    return {"state": f"{redis.url}?{query}"}


def relays(tmp_path, pki, upstream, redis, n=2, limit=5, accounts=None, **options):
    return [PoolRelay(tmp_path / f"relay{i}", pki, upstream, limit=limit, accounts=accounts or ACCOUNTS,
                      pool=shared(redis, **options)) for i in range(n)]


def wait_ready(relay, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if relay.http("/readyz")[0] == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"not ready: {relay.http('/readyz')}\n{relay.log()[-3000:]}")


def gauge(relay, name):
    for line in relay.metrics().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{}"):
            return float(line.split()[-1])
    return None


def queued(relay):
    total = 0.0
    for line in relay.metrics().splitlines():
        if line.startswith("relaypool_queue_depth{"):
            total += float(line.split()[-1])
    return total


def distinct(upstream):
    return {m.data.split(b"Message-ID: <", 1)[1].split(b">", 1)[0] for m in upstream.messages}


def test_two_instances_never_exceed_a_limit_together(tmp_path, pki, upstream, redis):
    a, b = relays(tmp_path, pki, upstream, redis, limit=5)
    a.start(), b.start()
    try:
        wait_ready(a), wait_ready(b)
        # 4 accounts x 5 = 20 in any 24 h; each instance alone would send 20.
        counts = {}
        ts = [threading.Thread(target=lambda r, t: counts.__setitem__(t, submit_many(r, 20, t)), args=(r, t))
              for r, t in ((a, "a"), (b, "b"))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert counts == {"a": 20, "b": 20}
        assert upstream.wait_for(lambda u: len(u.messages) >= 20, 60), per_account(upstream)
        total = settle(upstream, 3.0)
        by_account = per_account(upstream)
        assert total == 20 and all(c == 5 for c in by_account.values()), by_account
        # The other 20 wait in the two queues (none lost, none over the limit).
        assert queued(a) + queued(b) == 20
        usage = redis.cli("HGETALL", "relaypool:u:acct0@agency.example").split()
        assert sum(int(v) for f, v in zip(usage[::2], usage[1::2]) if f.startswith("m")) == 5
    finally:
        a.stop(), b.stop()


def test_pause_on_one_instance_is_seen_by_the_other(tmp_path, pki, upstream, redis):
    a, b = relays(tmp_path, pki, upstream, redis, limit=100)
    a.start(), b.start()
    try:
        wait_ready(a), wait_ready(b)
        name = "acct0@agency.example"
        status, body = a.http(f"/api/v1/pool/{name}/pause", method="POST")
        assert status == 200, body
        deadline = time.monotonic() + 10
        while b.pool_status()[name]["state"] != "paused":
            assert time.monotonic() < deadline, b.pool_status()[name]
            time.sleep(0.05)
        # B sends nothing through the paused account.
        assert submit_many(b, 8, "p") == 8
        upstream.wait_messages(8)
        assert name not in per_account(upstream), per_account(upstream)
        # Resumed on B: A sees it.
        assert b.http(f"/api/v1/pool/{name}/resume", method="POST")[0] == 200
        deadline = time.monotonic() + 10
        while a.pool_status()[name]["state"] != "active":
            assert time.monotonic() < deadline, a.pool_status()[name]
            time.sleep(0.05)
    finally:
        a.stop(), b.stop()


def test_pause_made_while_redis_is_down_reaches_the_other_instance_when_it_is_back(tmp_path, pki, upstream,
                                                                                   redis):
    a, b = relays(tmp_path, pki, upstream, redis, limit=100)
    a.start(), b.start()
    try:
        wait_ready(a), wait_ready(b)
        name = "acct1@agency.example"
        redis.kill()
        deadline = time.monotonic() + 15
        while a.http("/readyz")[0] != 503:
            assert time.monotonic() < deadline, a.http("/readyz")
            time.sleep(0.05)
        status, body = a.http(f"/api/v1/pool/{name}/pause", method="POST")
        assert status == 200, body
        redis.start()
        wait_ready(a), wait_ready(b)
        deadline = time.monotonic() + 15
        while b.pool_status()[name]["state"] != "paused":
            assert time.monotonic() < deadline, (b.pool_status()[name], a.log()[-2000:])
            time.sleep(0.05)
        # And A did not take back an older shared state for it meanwhile.
        assert a.pool_status()[name]["state"] == "paused", a.pool_status()[name]
        assert submit_many(b, 8, "p") == 8
        upstream.wait_messages(8)
        assert name not in per_account(upstream), per_account(upstream)
    finally:
        a.stop(), b.stop()


def test_redis_killed_and_restarted_loses_no_mail_and_breaks_no_limit(tmp_path, pki, upstream, redis):
    a, b = relays(tmp_path, pki, upstream, redis, limit=10)
    a.start(), b.start()
    try:
        wait_ready(a), wait_ready(b)
        assert gauge(a, "relaypool_state_backend_up") == 1
        assert submit_many(a, 12, "a1") == 12 and submit_many(b, 12, "b1") == 12
        upstream.wait_for(lambda u: len(u.messages) >= 6, 30)
        redis.kill()
        # Down: intake goes on, deliveries wait, /readyz and the metric say why.
        deadline = time.monotonic() + 15
        while a.http("/readyz")[0] != 503 or b.http("/readyz")[0] != 503:
            assert time.monotonic() < deadline, (a.http("/readyz"), b.http("/readyz"))
            time.sleep(0.05)
        status, body = a.http("/readyz")
        assert "Redis" in body, body
        assert gauge(a, "relaypool_state_backend_up") == 0
        assert submit_many(a, 12, "a2") == 12 and submit_many(b, 12, "b2") == 12
        during = settle(upstream, 1.5)
        assert settle(upstream, 1.5) == during  # nothing goes out unreserved
        redis.start()
        wait_ready(a), wait_ready(b)
        assert gauge(b, "relaypool_state_backend_up") == 1
        # 48 accepted, 4 x 10 allowed. A reservation Redis made (and wrote to
        # its AOF) whose answer the kill cut off counts although nothing was
        # sent: up to one per connection slot (2 instances x 8) may be lost
        # to the limit, never more sent than it.
        assert upstream.wait_for(lambda u: len(u.messages) >= 24, 90), per_account(upstream)
        total = settle(upstream, 5.0)
        by_account = per_account(upstream)
        assert 24 <= total <= 40 and all(c <= 10 for c in by_account.values()), by_account
        # Each message once, and every other one still queued: none lost.
        assert len(distinct(upstream)) == total
        assert queued(a) + queued(b) == 48 - total
    finally:
        a.stop(), b.stop()


def test_reservation_of_a_killed_instance_expires_and_still_counts(tmp_path, pki, upstream, redis):
    one = {"acct0@agency.example": "pw-0"}
    a, b = relays(tmp_path, pki, upstream, redis, limit=2, accounts=one, reservation_ttl=2)
    a.start()
    try:
        wait_ready(a)
        # The upstream never answers the body: A is mid-send when killed.
        hang = upstream.add_fault("body", action="hang", times=1)
        assert submit_many(a, 1, "hung") == 1
        assert upstream.wait_for(lambda u: hang.fired == 1, 30), a.log()[-3000:]
        key = "relaypool:t:acct0@agency.example"
        assert redis.cli("ZCARD", key) == "1"
        a.kill()
        time.sleep(2.5)  # past reservation_ttl
        b.start()
        wait_ready(b)
        assert submit_many(b, 2, "after") == 2
        upstream.wait_messages(1)
        # The killed send may have reached Gmail: it counts, so one more fits.
        assert settle(upstream, 3.0) == 1
        assert redis.cli("ZCARD", key) == "0"  # its record expired
        assert redis.cli("HLEN", "relaypool:f:acct0@agency.example") == "0"
        assert b.pool_status()["acct0@agency.example"]["state"] == "exhausted"
    finally:
        b.stop()
        if a.running():
            a.kill()


def test_rediss_with_a_password(tmp_path, pki, upstream):
    """TLS to Redis (verified against the test CA) and AUTH from a _file secret."""
    (tmp_path / "redis-password").write_text("s3cret-redis\n")
    with RedisServer(tmp_path / "redis-tls", pki=pki, password="s3cret-redis") as redis:
        relay = PoolRelay(tmp_path / "relay", pki, upstream, limit=5,
                          pool={"state": f"{redis.url}?poll_ms=100&ca_file={pki.ca_file}",
                                "state_password_file": str(tmp_path / "redis-password")})
        relay.start()
        try:
            wait_ready(relay)
            assert submit_many(relay, 3, "tls") == 3
            upstream.wait_messages(3)
            usage = redis.cli("HGETALL", "relaypool:u:" + per_account(upstream).popitem()[0])
            assert usage, "no usage recorded in Redis"
            assert "s3cret-redis" not in relay.log()
        finally:
            relay.stop()
