"""pytest fixtures shared by the integration tests: one test PKI per session,
and `make_relay`, which starts relaypool processes (harness.Relay) and at
teardown stops each with SIGTERM and checks it exits 0."""

import pytest

import harness


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return harness.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def make_relay(tmp_path, pki):
    relays = []

    def make(start=True, **kwargs):
        relay = harness.Relay(tmp_path / f"relay{len(relays)}", pki, **kwargs)
        relays.append(relay)
        return relay.start() if start else relay

    yield make
    failures = []
    for relay in relays:
        if relay.running():
            rc = relay.stop()
            if rc != 0:
                failures.append(f"relaypool exited {rc}:\n{relay.log()[-3000:]}")
    assert not failures, "\n".join(failures)
