"""No dashboard panel or alert rule on a metric that relaypool does not
export: every relaypool_* name that docker/grafana/relaypool.json and
docker/prometheus/alerts.yml query must exist in a live scrape of the real
binary, after a message went through the sandbox upstream (so the
delivery counters and the latency histogram have samples), with the labels
the queries group or match by.

The scrapes come from two real relays (see the `scrape` fixture), driven
so that every family has samples: a delivery, a failed AUTH, a deferral
and a bounce (relaypool creates labelled series on first use, and
prometheus-cpp prints no `# TYPE` line for a family without any). A name
exists when the scrape has samples of it; histogram queries use
NAME_bucket / NAME_sum / NAME_count of a `histogram` family. Each label
the queries use (`by (...)`, `{label=...}`) must be on those samples.

Environment: RELAYPOOL_BIN, RP_SOURCE_DIR (see conftest.py / harness.py).
"""

import glob
import json
import os
import re
import smtplib
import subprocess
import time

import pytest
import yaml

import harness

SRC = harness.SOURCE_DIR
ACCOUNTS = ["dash01@agency.example", "dash02@agency.example"]
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
NAME_RE = re.compile(r"\brelaypool_[a-z0-9_]+\b")


def dashboard_exprs():
    dash = json.load(open(os.path.join(SRC, "docker", "grafana", "relaypool.json")))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var.get("type") == "query":
            exprs.append(var["definition"])
    return exprs


def alert_exprs():
    rules = yaml.safe_load(open(os.path.join(SRC, "docker", "prometheus", "alerts.yml")))
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


IGNORED_LABELS = {"instance", "job", "le", ""}


def used_labels(expr, name):
    """Labels a query needs on `name`: the matchers of its selectors, and every
    `by (...)` label of the query (each query here aggregates one metric, or
    several that share those labels, such as sent_24h / daily_limit)."""
    labels = set()
    for m in re.finditer(re.escape(name) + r"\{([^}]*)\}", expr):
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", m.group(1)))
    for m in re.finditer(r"\bby \(([^)]*)\)", expr):
        labels |= {x.strip() for x in m.group(1).split(",")}
    return labels - IGNORED_LABELS


def parse_scrape(text):
    """({family: type}, {sample name: [label dicts]})."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ", line)
            assert m, line
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            samples.setdefault(m.group(1), []).append(labels)
    return types, samples


def submit(relay):
    """STARTTLS + AUTH submission of one message; returns its queue id."""
    c = smtplib.SMTP("127.0.0.1", relay.port("submission"), local_hostname="app.client.example", timeout=30)
    try:
        c.starttls(context=relay.pki.client_context())
        c.login(harness.USER, harness.PASSWORD)
        c.mail("app@client.example")
        assert c.rcpt("someone@example.net")[0] == 250
        code, reply = c.data(harness.message("dashboard"))
        assert code == 250, reply
        return harness.queued_id(b"250 " + reply)
    finally:
        c.quit()


def failed_login(relay):
    c = smtplib.SMTP("127.0.0.1", relay.port("submission"), local_hostname="app.client.example", timeout=30)
    try:
        c.starttls(context=relay.pki.client_context())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login(harness.USER, "not-the-password")
    finally:
        c.quit()


def wait_metric(relay, pattern):
    deadline = time.monotonic() + 30
    while not re.search(pattern, relay.metrics(), re.M):
        assert time.monotonic() < deadline, f"{pattern} never in the scrape:\n" + relay.log()[-3000:]
        time.sleep(0.1)


def accounts_config(workdir, extra):
    config = {"pool": {"state": str(workdir / "pool.state"),
                       "accounts": [{"username": a, "password": "dummy", "daily_limit": 100} for a in ACCOUNTS]}}
    config.update(extra)
    return config


@pytest.fixture(scope="module")
def scrape(tmp_path_factory):
    """The union of two live scrapes, so that every family has samples:
    a relay whose message went out through the sandbox upstream (deliveries,
    latency) and saw a failed AUTH; and a relay whose upstream refuses
    connections (a deferral), whose deferred message was then deleted with
    `relaypool queue delete` (a bounce)."""
    work = tmp_path_factory.mktemp("dash")
    pki = harness.make_pki(work / "pki")
    listeners = [{"name": "submission", "tls": "starttls"}]
    box = work / "sandbox-mail"
    texts = []
    relay = harness.Relay(work / "sandbox", pki, listeners=listeners, extra=accounts_config(
        work / "sandbox", {"upstream": {"sandbox": str(box)}})).start()
    try:
        submit(relay)
        failed_login(relay)
        wait_metric(relay, r"^relaypool_deliveries_total\{[^}]*\} 1")
        wait_metric(relay, r"^relaypool_auth_failures_total\{[^}]*\} [1-9]")  # smtplib tries PLAIN, then LOGIN
        assert glob.glob(str(box / "*.eml"))
        texts.append(relay.metrics())
    finally:
        assert relay.stop() == 0
    relay = harness.Relay(work / "refused", pki, listeners=listeners,
                          extra=accounts_config(work / "refused", {})).start()
    try:
        qid = submit(relay)
        wait_metric(relay, r'^relaypool_deferrals_total\{[^}]*reason="connection"[^}]*\} 1')
        deleted = subprocess.run([harness.BIN, "queue", "delete", qid, "--admin",
                                  f"http://127.0.0.1:{relay.metrics_port}"], capture_output=True, text=True,
                                 timeout=60)
        assert deleted.returncode == 0, deleted.stderr
        wait_metric(relay, r'^relaypool_bounces_total\{reason="deleted"\} 1')
        texts.append(relay.metrics())
    finally:
        assert relay.stop() == 0
    types, samples = {}, {}
    for text in texts:
        t, s = parse_scrape(text)
        types.update(t)
        for name, labels in s.items():
            samples.setdefault(name, []).extend(labels)
    return types, samples


def queried_names():
    names = {}
    for source, exprs in (("dashboard", dashboard_exprs()), ("alerts", alert_exprs())):
        for expr in exprs:
            for name in NAME_RE.findall(expr):
                names.setdefault(name, []).append((source, expr))
    return names


def test_the_kit_queries_the_core_metrics():
    names = set(queried_names())
    for must in ("relaypool_queue_depth", "relaypool_queue_oldest_age_seconds", "relaypool_deferrals_total",
                 "relaypool_account_state", "relaypool_account_up", "relaypool_account_sent_24h",
                 "relaypool_account_daily_limit", "relaypool_spool_errors_total",
                 "relaypool_delivery_latency_seconds_bucket", "relaypool_deliveries_total"):
        assert must in names, f"{must} is on no panel or rule"


def test_every_queried_metric_exists_in_a_live_scrape(scrape):
    types, samples = scrape
    missing = []
    for name, uses in sorted(queried_names().items()):
        if name.endswith(HISTOGRAM_SUFFIXES) and name not in types:
            family = name[: name.rindex("_")]
            if types.get(family) != "histogram":
                missing.append(f"{name}: no histogram family {family}")
                continue
        elif name not in types:
            missing.append(f"{name}: not exported ({uses[0][0]}: {uses[0][1]})")
            continue
        if name not in samples:
            missing.append(f"{name}: no samples")
            continue
        wanted = set().union(*[used_labels(expr, name) for _, expr in uses])
        have = set().union(*[set(s) for s in samples[name]])
        if not wanted <= have:
            missing.append(f"{name}: labels {sorted(wanted - have)} not on its series (has {sorted(have)})")
    assert not missing, "\n".join(missing)


def test_spool_error_series_exist_before_the_first_error(scrape):
    _, samples = scrape
    kinds = {s["kind"] for s in samples.get("relaypool_spool_errors_total", [])}
    assert kinds == {"commit", "state_write", "quarantined", "remove"}
