"""XOAUTH2 with a Google service account (domain-wide delegation), end to
end: the real binary, a fake token endpoint that verifies the JWT the way
Google does (fake_token_endpoint.py), and the fake Gmail accepting only the
tokens that endpoint issued.

What must hold (SPEC.md "Delivery"): tokens are fetched once per
account and reused (fetches ~ accounts, not messages), renewed before they
expire, a mailbox without delegation is disabled with the endpoint's error
while its mail goes through the others, an endpoint that is down makes mail
wait (nothing bounces, no account is disabled), a 535 to a revoked token is
answered with one fresh token, and check-config / startup refuse unusable
key files.
"""

import json
import os
import re
import subprocess
import threading
import time

import pytest

import harness
from fake_token_endpoint import FakeTokenEndpoint, ServiceAccount
import fake_upstream as fu
from fake_upstream import FakeUpstream
from test_delivery import RelayProcess, message, submit

MAILBOXES = [f"billing{i}@agency.example" for i in range(3)]


@pytest.fixture(scope="module")
def service_account():
    return ServiceAccount()


@pytest.fixture
def upstream(pki):
    with FakeUpstream(pki=pki) as up:
        yield up


@pytest.fixture
def endpoint(pki, service_account, upstream):
    with FakeTokenEndpoint(pki, service_account, upstream) as ep:
        yield ep


class OAuthRelay(RelayProcess):
    """RelayProcess whose accounts authenticate with pool.oauth2 only."""

    def __init__(self, workdir, pki, upstream, key_file, mailboxes=MAILBOXES, **settings):
        self.key_file, self.mailboxes = key_file, mailboxes
        super().__init__(workdir, pki, upstream, **settings)

    def base_config(self):
        c = super().base_config()
        c["pool"]["oauth2"] = {"service_account_file": self.key_file}
        c["pool"]["accounts"] = [{"username": m, "daily_limit": 2000} for m in self.mailboxes]
        return c

    def pool_status(self):
        status, body = self.http("/api/v1/pool")
        assert status == 200, body
        return {a["name"]: a for a in json.loads(body)["accounts"]}


def metric(relay, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in relay.metrics().splitlines():
        m = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return 0.0


def wait_for(predicate, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def accepted(upstream):
    return [t for t in upstream.transactions if t.accepted]


@pytest.fixture
def key_file(tmp_path, service_account, endpoint):
    return service_account.write(str(tmp_path / "sa.json"), endpoint.token_uri)


def start_relay(tmp_path, pki, upstream, key_file, **settings):
    relay = OAuthRelay(tmp_path / "relay", pki, upstream, key_file, **settings)
    relay.start()
    return relay


def submit_concurrently(relay, n, prefix):
    threads = [threading.Thread(target=submit, args=(relay, message(f"{prefix}-{i}"), [f"c{i}@example.net"]))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_mail_goes_out_with_tokens_fetched_once_per_account(tmp_path, pki, upstream, endpoint, key_file):
    # A slow endpoint: both sessions of an account want its token at once
    # and must share one fetch (single flight).
    endpoint.delay = 1.5
    relay = start_relay(tmp_path, pki, upstream, key_file)
    try:
        n = 15
        submit_concurrently(relay, n, "oauth")
        wait_for(lambda: len(accepted(upstream)) >= n, what="all messages delivered")
        txs = accepted(upstream)
        assert len(txs) == n
        assert {t.account for t in txs} <= set(MAILBOXES)
        # sessions of one account overlapped while its token was being fetched
        assert max(upstream.counter("logins", a) for a in MAILBOXES) >= 2
        # one token per account that sent, not one per message or session
        used = {t.account for t in txs}
        assert endpoint.fetch_count() == len(used)
        for claims in endpoint.assertions:
            assert claims["sub"] in MAILBOXES
            assert claims["iss"] == endpoint.sa.email
            assert claims["scope"] == "https://mail.google.com/"
        assert metric(relay, "relaypool_oauth2_token_fetches_total", result="ok") == len(used)
        for account in used:
            assert f'relaypool_oauth2_token_age_seconds{{account="{account}"}}' in relay.metrics()
        assert all(a["state"] == "active" for a in relay.pool_status().values())
        assert "ya29." not in relay.log()  # tokens are never logged
    finally:
        relay.stop()


def test_tokens_are_renewed_before_they_expire(tmp_path, pki, upstream, endpoint, key_file):
    endpoint.lifetime = 8  # renewal after 6 s (a quarter early), Gmail refuses it after 8 s
    relay = start_relay(tmp_path, pki, upstream, key_file, mailboxes=MAILBOXES[:1], messages_per_connection=1)
    try:
        submit(relay, message("renew-1"), ["a@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 1, what="first delivery")
        assert endpoint.fetch_count() == 1
        time.sleep(6.5)
        submit(relay, message("renew-2"), ["b@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 2, what="second delivery")
        assert endpoint.fetch_count() == 2
        time.sleep(9)  # the second token has expired at Gmail as well
        submit(relay, message("renew-3"), ["c@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 3, what="third delivery")
        assert endpoint.fetch_count() == 3
        assert upstream.counter("auth_failures") == 0  # never tried an expired token
    finally:
        relay.stop()


def test_mailbox_without_delegation_is_disabled_and_its_mail_rerouted(tmp_path, pki, upstream, endpoint, key_file):
    endpoint.delegated = {MAILBOXES[0], MAILBOXES[2]}
    relay = start_relay(tmp_path, pki, upstream, key_file)
    try:
        n = 9
        for i in range(n):
            submit(relay, message(f"deleg-{i}"), [f"c{i}@example.net"])
        wait_for(lambda: len(accepted(upstream)) >= n, what="all messages delivered")
        assert {t.account for t in accepted(upstream)} <= {MAILBOXES[0], MAILBOXES[2]}
        wait_for(lambda: relay.pool_status()[MAILBOXES[1]]["state"] == "disabled", what="account disabled")
        status = relay.pool_status()
        reason = json.dumps(status[MAILBOXES[1]])
        assert "unauthorized_client" in reason
        assert "delegation is not granted" in reason
        assert status[MAILBOXES[0]]["state"] == "active"
        assert metric(relay, "relaypool_deferrals_total", account=MAILBOXES[1], reason="auth") >= 1
        assert metric(relay, "relaypool_oauth2_token_fetches_total", result="denied") >= 1
        # the refused mailbox has no token: no age series (0 would read as a fresh token)
        text = relay.metrics()
        assert f'relaypool_oauth2_token_age_seconds{{account="{MAILBOXES[0]}"}}' in text
        assert f'relaypool_oauth2_token_age_seconds{{account="{MAILBOXES[1]}"}}' not in text
        assert metric(relay, "relaypool_bounces_total") == 0
        assert not [t for t in upstream.transactions if not t.accepted]
    finally:
        relay.stop()


def test_token_endpoint_down_mail_waits_nothing_bounces(tmp_path, pki, upstream, endpoint, key_file):
    endpoint.status_override = 503
    relay = start_relay(tmp_path, pki, upstream, key_file)
    try:
        for i in range(3):
            submit(relay, message(f"down-{i}"), [f"c{i}@example.net"])
        wait_for(lambda: endpoint.requests >= 3, what="token requests while down")
        wait_for(lambda: metric(relay, "relaypool_oauth2_token_fetches_total", result="unavailable") >= 3,
                 what="unavailable fetches counted")
        assert accepted(upstream) == []
        assert all(a["state"] == "active" for a in relay.pool_status().values())
        # the endpoint refusing connections outright is the same: temporary
        endpoint.down()
        before = metric(relay, "relaypool_oauth2_token_fetches_total", result="unavailable")
        wait_for(lambda: metric(relay, "relaypool_oauth2_token_fetches_total", result="unavailable") > before,
                 timeout=60, what="a fetch refused at the TCP level")
        assert accepted(upstream) == []
        assert all(a["state"] == "active" for a in relay.pool_status().values())
        endpoint.status_override = None
        endpoint.up()
        wait_for(lambda: len(accepted(upstream)) == 3, timeout=90, what="delivery after the endpoint returned")
        assert all(a["state"] == "active" for a in relay.pool_status().values())
        assert metric(relay, "relaypool_bounces_total") == 0
        assert metric(relay, "relaypool_deferrals_total", account=MAILBOXES[0], reason="auth") == 0
    finally:
        relay.stop()


def test_revoked_token_gets_one_fresh_token(tmp_path, pki, upstream, endpoint, key_file):
    relay = start_relay(tmp_path, pki, upstream, key_file, mailboxes=MAILBOXES[:1], messages_per_connection=1)
    try:
        submit(relay, message("revoke-1"), ["a@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 1, what="first delivery")
        endpoint.revoke_tokens(MAILBOXES[0])  # e.g. the admin reset the mailbox's sessions
        submit(relay, message("revoke-2"), ["b@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 2, what="delivery with a fresh token")
        assert endpoint.fetch_count(MAILBOXES[0]) == 2
        assert upstream.counter("auth_failures") == 1
        assert relay.pool_status()[MAILBOXES[0]]["state"] == "active"
        relay.wait_log(r"XOAUTH2 token refused by the upstream; retrying with a fresh one")
    finally:
        relay.stop()


def test_a_token_refused_twice_disables_the_account_after_one_retry(tmp_path, pki, upstream, endpoint, key_file):
    # Gmail refuses the mailbox whatever the token (e.g. SMTP is turned off
    # for it): one fresh token is tried, then the account is disabled.
    upstream.add_fault("auth", fu.AUTH_FAILED, account=MAILBOXES[0])
    relay = start_relay(tmp_path, pki, upstream, key_file, mailboxes=MAILBOXES[:2])
    try:
        submit(relay, message("refused-twice"), ["a@example.net"])
        wait_for(lambda: relay.pool_status()[MAILBOXES[0]]["state"] == "disabled", what="account disabled")
        assert endpoint.fetch_count(MAILBOXES[0]) == 2
        assert upstream.counter("auth_attempts", MAILBOXES[0]) == 2
        wait_for(lambda: len(accepted(upstream)) == 1, what="delivery through the other account")
        assert accepted(upstream)[0].account == MAILBOXES[1]
    finally:
        relay.stop()


def test_token_endpoint_with_an_untrusted_certificate_is_never_used(tmp_path, pki, upstream, service_account):
    # The token endpoint's certificate comes from a CA the relay does not
    # trust: no assertion is sent to it, the mail waits, nobody is disabled.
    other_pki = harness.make_pki(tmp_path / "other-pki")
    with FakeTokenEndpoint(other_pki, service_account, upstream) as rogue:
        key = service_account.write(str(tmp_path / "sa.json"), rogue.token_uri)
        relay = start_relay(tmp_path, pki, upstream, key, mailboxes=MAILBOXES[:1])
        try:
            submit(relay, message("rogue"), ["a@example.net"])
            wait_for(lambda: metric(relay, "relaypool_oauth2_token_fetches_total", result="unavailable") >= 1,
                     what="the fetch refused by TLS verification")
            assert rogue.assertions == [] and rogue.fetch_count() == 0
            assert accepted(upstream) == []
            assert relay.pool_status()[MAILBOXES[0]]["state"] == "active"
            relay.wait_log(r"certificate verify failed|certificate verification failed")
        finally:
            relay.stop()


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


def test_check_config_validates_service_account_keys(tmp_path, pki, upstream, endpoint, key_file, service_account):
    relay = OAuthRelay(tmp_path / "relay", pki, upstream, key_file)
    relay.write_config(relay.build_config({}))
    bin_ = os.environ["RELAYPOOL_BIN"]
    ok = subprocess.run([bin_, "check-config", "--config", relay.config_path], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    good = json.load(open(key_file))
    cases = {
        "wrong type": ({**good, "type": "authorized_user"}, '"type" is not "service_account"'),
        "http token_uri": ({**good, "token_uri": "http://oauth2.googleapis.com/token"}, '"token_uri"'),
        "no private key": ({k: v for k, v in good.items() if k != "private_key"}, '"private_key" is missing'),
        "broken private key": ({**good, "private_key": "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n"},
                               '"private_key": not a PEM private key'),
    }
    for name, (doc, expect) in cases.items():
        bad = write_json(tmp_path / "bad.json", doc)
        relay.key_file = bad
        relay.write_config(relay.build_config({}))
        r = subprocess.run([bin_, "check-config", "--config", relay.config_path], capture_output=True, text=True)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert expect in r.stderr, (name, r.stderr)
        assert "oauth2.service_account_file" in r.stderr
        assert "BEGIN" not in r.stderr  # the key never appears


def test_unusable_key_at_start_disables_the_accounts(tmp_path, pki, upstream, endpoint, service_account):
    bad = write_json(tmp_path / "sa.json", {"type": "service_account", "client_email": "x@y"})
    relay = start_relay(tmp_path, pki, upstream, bad)
    try:
        status = relay.pool_status()
        assert all(a["state"] == "disabled" for a in status.values())
        assert "service account key unusable" in json.dumps(status)
        code, body = relay.http("/readyz")
        assert code == 503, body
        # the key is fixed and the configuration reloaded: the accounts work
        service_account.write(bad, endpoint.token_uri)
        relay.reload()
        wait_for(lambda: all(a["state"] == "active" for a in relay.pool_status().values()), what="enabled")
        submit(relay, message("fixed-key"), ["a@example.net"])
        wait_for(lambda: len(accepted(upstream)) == 1, what="delivery after the fix")
    finally:
        relay.stop()
