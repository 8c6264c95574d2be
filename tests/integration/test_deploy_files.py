"""The deployment kit, checked without a container engine or a cluster
(neither exists where the tests run): docker/Dockerfile, docker/compose.yaml
with its Prometheus and Grafana files, and deploy/kubernetes/.

What must hold: every file a compose service mounts exists; the relaypool
configurations shipped for compose and for Kubernetes pass the real
`relaypool check-config` with their secrets where the orchestrator puts them
(the paths are pointed at test files); every secret or config path they name
is mounted; Prometheus scrapes the port relaypool's metrics.address listens
on; Grafana's provisioning points at the Prometheus service and at the
dashboard's mount; the StatefulSet's probes, ports, volumes and shutdown
timing fit the config and app/serve.cpp; the image has no curl and uses
`relaypool health`. promtool and yamllint run as their own ctest entries
(tests/CMakeLists.txt, deploy.*).

Environment: RELAYPOOL_BIN, RP_SOURCE_DIR (see conftest.py / harness.py).
"""

import json
import os
import re
import subprocess

import pytest
import yaml

import harness

SRC = harness.SOURCE_DIR
DOCKER = os.path.join(SRC, "docker")
K8S = os.path.join(SRC, "deploy", "kubernetes")
DEMO_HASH = "$y$j9T$ukcS85pBzJ/PTOxXxFxyQ1$w.YscO1SmAIq6P4GP2zUzC8AEVQKpqNC4bfstzLrnU3"


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def check_config(text, tmp_path, name="relaypool.yaml"):
    path = tmp_path / name
    path.write_text(text)
    r = subprocess.run([harness.BIN, "check-config", "--config", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"check-config refused the shipped config:\n{r.stderr}"


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def secret_paths(text, root):
    """Every path under `root` that a config's values name (comments aside)."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith(root):
            found.add(node)

    walk(yaml.safe_load(text))
    return sorted(found)


# ---- Dockerfile ----------------------------------------------------------------------
def runtime_stage():
    text = open(os.path.join(DOCKER, "Dockerfile")).read()
    stages = re.split(r"^FROM ", text, flags=re.M)
    return stages[-1]


def test_image_runtime_stage_has_no_curl_and_checks_health_with_relaypool():
    stage = runtime_stage()
    assert not re.search(r"\bcurl\b", re.sub(r"#.*", "", stage)), "curl is back in the runtime stage"
    check = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])", stage, flags=re.M | re.S)
    assert check, "no HEALTHCHECK in the runtime stage"
    assert json.loads(check.group(1)) == ["/usr/local/bin/relaypool", "health"]
    # The HEALTHCHECK's own timeout leaves room for the client's 2 s one.
    timeout = re.search(r"^HEALTHCHECK [^\n]*--timeout=(\d+)s", stage, flags=re.M)
    assert timeout and int(timeout.group(1)) > 2


def test_image_runs_as_a_numeric_non_root_user():
    user = re.search(r"^USER (\S+)", runtime_stage(), flags=re.M)
    assert user, "no USER in the runtime stage"
    uid = user.group(1).split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: Kubernetes can verify runAsNonRoot


def test_image_build_stage_installs_every_build_package():
    """The build stage needs what scripts/install-deps.sh --build-only installs
    (pkg-config went missing once: CMake finds hiredis with it)."""
    deps = open(os.path.join(SRC, "scripts", "install-deps.sh")).read()
    wanted = set(re.search(r"^build_packages=\((.*?)\)", deps, flags=re.M | re.S).group(1).split())
    wanted -= {"ccache"}  # a cache for repeated builds, not a dependency
    text = open(os.path.join(DOCKER, "Dockerfile")).read()
    build_stage = re.split(r"^FROM ", text, flags=re.M)[1]
    installed = set()
    for command in re.findall(r"apt-get install (.*?)(?:&&|$)", build_stage.replace("\\\n", " "), flags=re.M):
        installed |= {word for word in command.split() if not word.startswith("-")}
    assert wanted <= installed, f"Dockerfile build stage lacks {sorted(wanted - installed)}"


def test_image_default_config_passes_check_config(tmp_path):
    check_config(open(os.path.join(DOCKER, "relaypool.yaml")).read(), tmp_path)


# ---- docker/compose.yaml ---------------------------------------------------------------
@pytest.fixture(scope="module")
def compose():
    return load(os.path.join(DOCKER, "compose.yaml"))


def bind_mounts(service):
    """(host path relative to docker/, container path) of each bind mount."""
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out.append((source, target))
    return out


def host_path(relative):
    return os.path.normpath(os.path.join(DOCKER, relative))


def test_compose_has_the_three_services_and_the_build(compose):
    assert set(compose["services"]) == {"relaypool", "prometheus", "grafana"}
    build = compose["services"]["relaypool"]["build"]
    assert os.path.isfile(os.path.join(host_path(build["context"]), build["dockerfile"]))


def test_compose_mounts_and_secrets_exist(compose):
    for name, service in compose["services"].items():
        for source, _ in bind_mounts(service):
            assert os.path.exists(host_path(source)), f"{name}: {source} does not exist"
        for secret in service.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: secret {secret} is not defined"
    for name, secret in compose["secrets"].items():
        assert os.path.isfile(host_path(secret["file"])), f"secret {name}: {secret['file']} missing"
    named = {target.split(":")[0] for s in compose["services"].values() for target in s.get("volumes", [])
             if not target.startswith(".")}
    assert named <= set(compose["volumes"])


def compose_relaypool_config(compose):
    service = compose["services"]["relaypool"]
    mounts = {target: source for source, target in bind_mounts(service)}
    command = service["command"]
    config_path = command[command.index("--config") + 1]
    assert config_path in mounts, "the config relaypool is started with is not mounted"
    return service, open(host_path(mounts[config_path])).read()


def test_compose_relaypool_config_passes_check_config_with_its_secrets(compose, tmp_path):
    service, text = compose_relaypool_config(compose)
    named = secret_paths(text, "/run/secrets/")
    assert named, "the compose config reads no secret from /run/secrets"
    for path in named:
        name = path[len("/run/secrets/"):]
        assert name in service["secrets"], f"{path} is not a secret of the relaypool service"
        text = text.replace(path, host_path(compose["secrets"][name]["file"]))
    config = yaml.safe_load(text)
    # Where the container writes (volumes), the test writes under tmp_path.
    text = text.replace("/var/spool/relaypool", str(tmp_path / "spool"))
    text = text.replace("/var/lib/relaypool", str(tmp_path / "state"))
    check_config(text, tmp_path)
    # Volumes hold what relaypool writes; the rest of the file system is read-only.
    targets = {v.split(":")[1] for v in service["volumes"]}
    assert os.path.dirname(config["pool"]["state"]) in targets
    assert config["queue"]["directory"] in targets
    assert service.get("read_only") is True
    # Published ports are the listeners' and the metrics port.
    published = {int(p.split(":")[-1]) for p in service["ports"]}
    assert {port_of(lst["address"]) for lst in config["listeners"]} <= published
    assert port_of(config["metrics"]["address"]) in published
    # Ports below 1024 as a non-root user: the sysctl, with every capability dropped.
    if min(port_of(lst["address"]) for lst in config["listeners"]) < 1024:
        assert service["sysctls"]["net.ipv4.ip_unprivileged_port_start"] == 0
    assert service["cap_drop"] == ["ALL"]
    # Long enough for the SIGTERM drain (app/serve.cpp).
    assert int(service["stop_grace_period"].rstrip("s")) > drain_seconds()


def test_prometheus_scrapes_relaypools_metrics_port_and_loads_the_rules(compose):
    _, text = compose_relaypool_config(compose)
    metrics_port = port_of(yaml.safe_load(text)["metrics"]["address"])
    service = compose["services"]["prometheus"]
    mounts = {target: source for source, target in bind_mounts(service)}
    config_path = next(a.split("=", 1)[1] for a in service["command"] if a.startswith("--config.file="))
    config = load(host_path(mounts[config_path]))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = [t for sc in jobs["relaypool"]["static_configs"] for t in sc["targets"]]
    assert targets == [f"relaypool:{metrics_port}"]
    for rule_file in config["rule_files"]:
        in_container = os.path.join(os.path.dirname(config_path), rule_file)
        assert in_container in mounts, f"rule file {rule_file} is not mounted"


def test_grafana_provisioning_points_at_prometheus_and_the_dashboard(compose):
    service = compose["services"]["grafana"]
    mounts = {target: source for source, target in bind_mounts(service)}
    ds_dir = host_path(mounts["/etc/grafana/provisioning/datasources"])
    sources = [d for f in sorted(os.listdir(ds_dir)) for d in load(os.path.join(ds_dir, f))["datasources"]]
    assert [d["url"] for d in sources if d["type"] == "prometheus"] == ["http://prometheus:9090"]
    dash_dir = host_path(mounts["/etc/grafana/provisioning/dashboards"])
    providers = [p for f in sorted(os.listdir(dash_dir)) for p in load(os.path.join(dash_dir, f))["providers"]]
    paths = [p["options"]["path"] for p in providers]
    dashboards = [t for t in mounts if t.endswith(".json")]
    assert dashboards and all(os.path.dirname(t) in paths for t in dashboards)
    assert service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] in dashboards
    for secret in service.get("secrets", []):
        assert service["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == f"/run/secrets/{secret}"


def test_dashboard_is_well_formed():
    dash = json.load(open(os.path.join(DOCKER, "grafana", "relaypool.json")))
    assert dash["uid"] == "relaypool"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]


# ---- deploy/kubernetes -------------------------------------------------------------------
def drain_seconds():
    """relaypool's SIGTERM hard stop (kStopDeadline in app/serve.cpp)."""
    text = open(os.path.join(SRC, "app", "serve.cpp")).read()
    m = re.search(r"kStopDeadline\s*=\s*std::chrono::seconds\((\d+)\)", text)
    assert m, "kStopDeadline not found in app/serve.cpp"
    return int(m.group(1))


@pytest.fixture(scope="module")
def k8s():
    kustomization = load(os.path.join(K8S, "kustomization.yaml"))
    docs = []
    for resource in kustomization["resources"]:
        docs += load_all(os.path.join(K8S, resource))
    by_kind = {}
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= set(doc), doc
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return by_kind


def k8s_config(k8s):
    return k8s["ConfigMap"]["relaypool-config"]["data"]["relaypool.yaml"]


def container(k8s):
    sts = k8s["StatefulSet"]["relaypool"]
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    return sts, c


def test_k8s_config_passes_check_config_with_its_secrets(k8s, tmp_path, pki):
    text = k8s_config(k8s)
    for path in secret_paths(text, "/run/secrets/"):
        name = os.path.basename(path)
        if name == "tls.crt":
            replacement = pki.cert_file
        elif name == "tls.key":
            replacement = pki.key_file
        else:
            replacement = str(tmp_path / name)
            with open(replacement, "w") as f:
                f.write(DEMO_HASH + "\n" if name.endswith(".hash") else f"test-secret-{name}\n")
        text = text.replace(path, replacement)
    text = text.replace("/var/spool/relaypool", str(tmp_path / "spool"))
    text = text.replace("/var/lib/relaypool", str(tmp_path / "state"))
    check_config(text, tmp_path)


def mount_covering(c, path):
    hits = [m for m in c["volumeMounts"] if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")]
    return max(hits, key=lambda m: len(m["mountPath"])) if hits else None


def test_k8s_statefulset_mounts_every_path_the_config_names(k8s):
    sts, c = container(k8s)
    text = k8s_config(k8s)
    config = yaml.safe_load(text)
    args = c["args"]
    config_path = args[args.index("--config") + 1]
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    mount = mount_covering(c, config_path)
    assert mount and volumes[mount["name"]]["configMap"]["name"] == "relaypool-config"
    assert os.path.basename(config_path) in k8s["ConfigMap"]["relaypool-config"]["data"]
    for path in secret_paths(text, "/run/secrets/"):
        mount = mount_covering(c, path)
        assert mount, f"{path} is not mounted"
        assert "secret" in volumes[mount["name"]], f"{path} does not come from a Secret"
    # The queue and pool state live on the StatefulSet's own volumes (one owner each).
    for path in (config["queue"]["directory"], config["pool"]["state"]):
        mount = mount_covering(c, path)
        assert mount and mount["name"] in claims, f"{path} is not on a volumeClaimTemplate"
    assert sts["spec"]["replicas"] == 1  # pool usage is per instance until it is shared


def test_k8s_probes_ports_and_shutdown_fit_relaypool(k8s):
    sts, c = container(k8s)
    config = yaml.safe_load(k8s_config(k8s))
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == port_of(config["metrics"]["address"])
    assert {port_of(lst["address"]) for lst in config["listeners"]} <= set(ports.values())
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    pod = sts["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    # preStop sleep, then SIGTERM's drain, inside the grace period.
    command = c["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "/bin/sleep"
    pre_stop = int(command[1])
    assert pod["spec"]["terminationGracePeriodSeconds"] >= pre_stop + drain_seconds() + 5
    # Non-root on ports below 1024: the sysctl, no capability.
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    if min(port_of(lst["address"]) for lst in config["listeners"]) < 1024:
        assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in security["sysctls"]
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_k8s_services_target_existing_ports_and_proxy_listeners(k8s):
    sts, c = container(k8s)
    config = yaml.safe_load(k8s_config(k8s))
    by_port = {p["containerPort"]: p["name"] for p in c["ports"]}
    proxied = {by_port[port_of(lst["address"])] for lst in config["listeners"] if lst.get("proxy_protocol")}
    for lst in config["listeners"]:
        if lst.get("proxy_protocol"):
            # The default is loopback only; the load balancer connects from the VPC.
            assert lst.get("proxy_protocol_from"), f"{lst['name']}: PROXY listener without proxy_protocol_from"
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["serviceName"] in k8s["Service"]
    for name, svc in k8s["Service"].items():
        assert svc["spec"]["selector"].items() <= labels.items(), name
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in by_port.values(), f"{name}: no container port {p['targetPort']}"
        targets = {p["targetPort"] for p in svc["spec"]["ports"]}
        if svc["spec"].get("type") == "LoadBalancer":
            # The public LB sends PROXY v2: only to the proxy_protocol listeners,
            # and its health check goes to the metrics port's /readyz.
            assert targets <= proxied, name
            annotations = svc["metadata"]["annotations"]
            assert int(annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"]) == \
                port_of(config["metrics"]["address"])
            assert annotations["service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"] == "/readyz"
        else:
            assert not targets & proxied, f"{name}: in-cluster clients send no PROXY header"


def test_k8s_secret_example_has_every_key_the_config_reads(k8s):
    (secret,) = load_all(os.path.join(K8S, "secret.example.yaml"))
    sts, c = container(k8s)
    mount = next(m for m in c["volumeMounts"] if m["name"] == "accounts")
    wanted = {p[len(mount["mountPath"]) + 1:] for p in secret_paths(k8s_config(k8s), mount["mountPath"] + "/")}
    assert wanted == set(secret["stringData"])
