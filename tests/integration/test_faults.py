"""Faults, tried rather than assumed (SPEC.md "Acceptance"): a second
relaypool on the same queue directory, a queue filesystem that fills up (a
real tmpfs mounted by the test, unmounted in its cleanup; skipped with the
reason where mounting is not permitted).

- One relaypool owns a queue directory: a second one exits 1 naming the
  directory and the holder's pid, and the first one's client is unharmed.
- While the queue's filesystem is below queue.min_free_space, MAIL gets
  452 4.3.1; queued mail keeps going out; new mail is taken again once there
  is room.
- A state write that fails never makes a recipient the upstream accepted be
  sent again: a two-recipient message whose second recipient is deferred,
  retried many times on a full disk, reaches the first recipient once.
"""

import os
import smtplib
import time
import uuid

import pytest

import harness
from fake_upstream import FakeUpstream
from test_crash import fill
from test_delivery import ACCOUNTS, SENDER, RelayProcess, message, submit


@pytest.fixture
def tmpfs(tmp_path):
    with harness.tmpfs(tmp_path, "4m") as mount:
        yield mount


def test_second_instance_on_the_same_queue_directory_exits_naming_the_holder(tmp_path, pki):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as upstream:
        upstream.down()  # keep the first one's mail queued
        first = RelayProcess(tmp_path / "first", pki, upstream).start()
        marker = f"first-{uuid.uuid4().hex}"
        submit(first, message(marker), ["someone@example.net"])
        second = RelayProcess(tmp_path / "second", pki, upstream, spool=first.queue_dir)
        try:
            with pytest.raises(AssertionError, match="exited with 1"):
                second.start(timeout=10)
            log = second.log()
            assert "in use by another relaypool" in log
            assert first.queue_dir in log
            assert f"(pid {first.proc.pid})" in log
            # The first instance is unharmed: it still takes and keeps mail.
            submit(first, message(f"again-{uuid.uuid4().hex}"), ["someone@example.net"])
            assert len(os.listdir(os.path.join(first.queue_dir, "queue"))) >= 2
            upstream.up()
            assert upstream.wait_for(lambda u: any(marker.encode() in m.data for m in u.messages), 60)
        finally:
            assert first.stop() == 0


def test_nearly_full_queue_refuses_mail_at_mail_from_and_keeps_delivering(tmp_path, pki, tmpfs):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as upstream:
        upstream.down()
        relay = RelayProcess(tmp_path / "relay", pki, upstream, spool=str(tmpfs / "spool"),
                             min_free_space="1MiB").start()
        try:
            queued = f"queued-{uuid.uuid4().hex}"
            submit(relay, message(queued), ["someone@example.net"])
            filler = tmpfs / "filler"
            with open(filler, "wb") as f:  # leave ~0.5 MiB: below the reserve, room for state files
                f.write(b"\0" * (os.statvfs(tmpfs).f_bavail * os.statvfs(tmpfs).f_frsize - 512 * 1024))
            time.sleep(1.2)  # the free-space check is cached for a second
            c = relay.client()
            code, text = c.mail(SENDER)
            assert code == 452 and b"4.3.1" in text, (code, text)
            c.quit()
            upstream.up()  # queued mail still goes out
            assert upstream.wait_for(lambda u: any(queued.encode() in m.data for m in u.messages), 60)
            os.unlink(filler)
            time.sleep(1.2)
            submit(relay, message(f"after-{uuid.uuid4().hex}"), ["someone@example.net"])
            assert "queue filesystem nearly full" in relay.log()
        finally:
            assert relay.stop() == 0


def test_full_disk_never_sends_an_accepted_recipient_twice(tmp_path, pki, tmpfs):
    with FakeUpstream(accounts=ACCOUNTS, pki=pki) as upstream:
        # The second recipient is deferred by the upstream every time.
        upstream.add_fault("rcpt", "450 4.2.1 The user you are trying to contact is receiving mail too quickly",
                           recipient="slow@example.net")
        relay = RelayProcess(tmp_path / "relay", pki, upstream, spool=str(tmpfs / "spool"), min_free_space=0,
                             retry_initial="1s", retry_max="1s")
        relay.start()
        try:
            upstream.down()
            marker = f"two-{uuid.uuid4().hex}"
            submit(relay, message(marker), ["fast@example.net", "slow@example.net"])
            fill(tmpfs / "filler")  # every state write fails from now on
            upstream.up()
            time.sleep(8)  # several retries on the full disk
            to_fast = [m for m in upstream.messages if marker.encode() in m.data and "fast@example.net" in m.rcpts]
            assert len(to_fast) == 1, f"fast@ got {len(to_fast)} copies:\n" + relay.log()[-3000:]
            assert "state write failed; the outcome is kept in memory" in relay.log()
            assert relay.proc.poll() is None
            # Room again: the slow recipient goes when the upstream lets it.
            os.unlink(tmpfs / "filler")
            upstream.clear_faults()
            assert upstream.wait_for(
                lambda u: any(marker.encode() in m.data and "slow@example.net" in m.rcpts for m in u.messages), 60)
            to_fast = [m for m in upstream.messages if marker.encode() in m.data and "fast@example.net" in m.rcpts]
            assert len(to_fast) == 1
        finally:
            assert relay.stop() == 0
