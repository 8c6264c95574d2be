"""docker/compose.redis.yaml (two relaypool instances sharing one pool state
in Redis), checked without a container engine like test_deploy_files.py
checks docker/compose.yaml: every mount and secret exists, the relaypool
config passes the real `relaypool check-config` with its secrets, each
instance has its own queue volume (a queue has one owner) and its own
published ports, and Redis keeps its data with appendfsync always.
"""

import os

import yaml

from test_deploy_files import DOCKER, bind_mounts, check_config, host_path, port_of, secret_paths


def compose():
    with open(os.path.join(DOCKER, "compose.redis.yaml")) as f:
        return yaml.safe_load(f)


def test_two_instances_and_redis_with_their_mounts_and_secrets():
    c = compose()
    assert set(c["services"]) == {"relaypool-a", "relaypool-b", "redis"}
    for name, service in c["services"].items():
        for source, _ in bind_mounts(service):
            assert os.path.exists(host_path(source)), f"{name}: {source} does not exist"
        for secret in service.get("secrets", []):
            assert secret in c["secrets"], f"{name}: secret {secret} is not defined"
    for name, secret in c["secrets"].items():
        assert os.path.isfile(host_path(secret["file"])), f"secret {name}: {secret['file']} missing"
    a, b = c["services"]["relaypool-a"], c["services"]["relaypool-b"]
    spool = lambda s: {v.split(":")[0] for v in s["volumes"] if not v.startswith(".")}  # noqa: E731
    assert spool(a) and spool(a).isdisjoint(spool(b)), "each instance needs its own queue volume"
    assert not {p.split(":")[-2] for p in a["ports"]} & {p.split(":")[-2] for p in b["ports"]}
    assert "--appendfsync always" in " ".join(c["services"]["redis"]["command"])


def test_the_shared_config_passes_check_config(tmp_path):
    c = compose()
    service = c["services"]["relaypool-a"]
    mounts = {target: source for source, target in bind_mounts(service)}
    command = service["command"]
    text = open(host_path(mounts[command[command.index("--config") + 1]])).read()
    for path in secret_paths(text, "/run/secrets/"):
        name = path[len("/run/secrets/"):]
        assert name in service["secrets"], f"{path} is not a secret of the relaypool service"
        text = text.replace(path, host_path(c["secrets"][name]["file"]))
    config = yaml.safe_load(text)
    assert config["pool"]["state"].startswith("redis://redis:6379/")
    assert "state_password_file" in config["pool"]
    text = text.replace("/var/spool/relaypool", str(tmp_path / "spool"))
    check_config(text, tmp_path)
    published = {int(p.split(":")[-1]) for p in service["ports"]}
    assert {port_of(lst["address"]) for lst in config["listeners"]} <= published
