"""Durability end to end (SPEC.md "Acceptance"): a 250 means the message is
never lost.

- kill -9 under load, restart, repeatedly: every message that got a 250 is
  delivered upstream at least once, and no message more than twice (the
  documented at-least-once window: delivered upstream, killed before the
  delivered state was written).
- a full disk (the spool on a small tmpfs) while deliveries run: state writes
  fail, nothing is lost, the relay keeps running and catches up when space
  comes back.

Uses the real binary (RELAYPOOL_BIN), the fake Gmail upstream, and the
RelayProcess/submit helpers of test_delivery.py.
"""

import collections
import os
import random
import smtplib
import threading
import time
import uuid

import pytest

import harness
from fake_upstream import FakeUpstream
from test_delivery import ACCOUNTS, SENDER, RelayProcess, message

ROUNDS = int(os.environ.get("RP_CRASH_ROUNDS", "5"))


def marker_of(data):
    """The marker in a delivered message's Message-ID."""
    start = data.find(b"Message-ID: <")
    if start < 0:
        return None
    start += len(b"Message-ID: <")
    return data[start:data.index(b"@", start)].decode()


def delivered_counts(upstream):
    counts = collections.Counter()
    for m in upstream.messages:
        if m.rcpts != [SENDER]:  # not a DSN
            counts[marker_of(m.data)] += 1
    return counts


class Loader(threading.Thread):
    """Submits messages back to back (a few per connection) until stopped.
    `acked`: markers the relay answered 250; `unacked`: markers whose
    submission failed or whose answer was lost (they may or may not arrive)."""

    def __init__(self, relay):
        super().__init__(daemon=True)
        self.relay = relay
        self.stop = threading.Event()
        self.acked, self.unacked = [], []
        self.errors = collections.Counter()

    def run(self):
        while not self.stop.is_set():
            try:
                c = self.relay.client()
            except (OSError, smtplib.SMTPException) as e:
                self.errors[type(e).__name__] += 1
                time.sleep(0.05)
                continue
            try:
                for _ in range(self.per_connection()):
                    if self.stop.is_set():
                        break
                    self._one(c)
                c.quit()
            except (OSError, smtplib.SMTPException) as e:
                self.errors[type(e).__name__] += 1
            finally:
                c.close()

    def per_connection(self):
        return 5

    def _one(self, c):
        marker = f"load-{uuid.uuid4().hex}"
        try:
            refused = c.sendmail(SENDER, ["someone@example.net"], message(marker, body=b"x" * 2000 + b"\r\n"))
        except BaseException:
            self.unacked.append(marker)
            raise
        (self.acked if refused == {} else self.unacked).append(marker)


def test_kill_9_under_load_loses_nothing(tmp_path, pki):
    seed = int(os.environ.get("RP_CRASH_SEED", str(int(time.time()))))
    rnd = random.Random(seed)
    print(f"seed={seed} rounds={ROUNDS}")
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as upstream:
        relay = RelayProcess(tmp_path / "relay", pki, upstream, connections_per_account=2).start()
        loader = Loader(relay)
        loader.start()
        try:
            for _ in range(ROUNDS):
                time.sleep(rnd.uniform(0.3, 2.0))
                relay.kill()
                time.sleep(rnd.uniform(0.0, 0.3))
                relay.start()
            time.sleep(1.0)
        finally:
            loader.stop.set()
            loader.join(60)
        acked = set(loader.acked)
        assert len(acked) > 10 * ROUNDS / 5, f"too little load to mean anything: {len(acked)} {loader.errors}"
        ok = upstream.wait_for(lambda u: acked <= set(delivered_counts(u)), 180)
        counts = delivered_counts(upstream)
        missing = sorted(acked - set(counts))
        assert ok and not missing, f"{len(missing)} acknowledged messages lost (seed {seed}): {missing[:5]}"
        time.sleep(3)  # let any duplicate still in flight arrive before counting
        counts = delivered_counts(upstream)
        over = {m: n for m, n in counts.items() if n > 2}
        assert not over, f"delivered more than twice (seed {seed}): {over}"
        unknown = set(counts) - acked - set(loader.unacked)
        assert not unknown, f"delivered messages nobody submitted: {unknown}"
        dupes = sum(1 for n in counts.values() if n == 2)
        print(f"acked={len(acked)} unacked={len(loader.unacked)} delivered={len(counts)} "
              f"duplicates={dupes} client_errors={dict(loader.errors)}")
        assert relay.stop() == 0, relay.log()[-4000:]


# ---- disk full --------------------------------------------------------------------------------------
@pytest.fixture
def small_tmpfs(tmp_path):
    with harness.tmpfs(tmp_path, "6m") as mount:
        yield mount


def fill(path, chunk=64 * 1024):
    """Writes `path` until the filesystem is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:  # unbuffered: close() has nothing left to fail on
        while True:
            try:
                n = f.write(b"\0" * chunk)
            except OSError:
                break
            written += n or 0
            if not n:
                break
    if written < chunk:
        return written
    # A last small write may still fit: take every byte.
    with open(path, "ab", buffering=0) as f:
        try:
            while f.write(b"\0" * 512):
                written += 512
        except OSError:
            pass
    return written


def test_disk_full_during_delivery_loses_nothing(tmp_path, pki, small_tmpfs):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as upstream:
        relay = RelayProcess(tmp_path / "relay", pki, upstream, spool=str(small_tmpfs / "spool"),
                             min_free_space=0).start()
        upstream.down()
        acked = []
        for i in range(8):
            marker = f"full{i}-{uuid.uuid4().hex}"
            try:
                c = relay.client()
                if c.sendmail(SENDER, ["someone@example.net"], message(marker, body=b"y" * 100_000 + b"\r\n")) == {}:
                    acked.append(marker)
                c.quit()
            except smtplib.SMTPException:
                pass
        assert acked, "the relay accepted nothing on an empty spool"
        filler = small_tmpfs / "filler"
        fill(filler)
        # The disk is full: a new submission must be refused with a 4xx, not acknowledged.
        c = relay.client()
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)) as e:
            c.sendmail(SENDER, ["someone@example.net"], message(f"refused-{uuid.uuid4().hex}",
                                                                 body=b"z" * 200_000 + b"\r\n"))
        assert 400 <= e.value.smtp_code < 500
        c.close()
        upstream.up()  # deliveries start while state writes fail
        time.sleep(4)
        assert relay.proc.poll() is None, "relaypool died on a full disk:\n" + relay.log()[-4000:]
        os.unlink(filler)
        assert upstream.wait_for(lambda u: set(acked) <= set(delivered_counts(u)), 120), (
            f"lost on a full disk: {set(acked) - set(delivered_counts(upstream))}\n" + relay.log()[-4000:])
        counts = delivered_counts(upstream)
        assert all(counts[m] <= 2 for m in acked)
        assert relay.stop() == 0, relay.log()[-4000:]
