"""The Debian package (CMake install rules + CPack, packaging/): built with
cpack from the build tree of the binary under test (no second compile; the
ASan tree's package has the same files, only its Depends differ) and
inspected with dpkg-deb.

What must hold: the binary, the conffile, the unit and the docs at their
paths with their modes; Depends computed by dpkg-shlibdeps (libc, OpenSSL,
yaml-cpp ...) plus adduser; the maintainer scripts are valid sh and create
the user and directories; the shipped configuration passes check-config and
is the sandbox (nothing sent until edited); the unit has the hardening keys,
`systemd-analyze verify` finds nothing to say about it and `systemd-analyze
security --offline` rates it OK or better.

Environment: RELAYPOOL_BIN (the binary), RP_SOURCE_DIR (the repository).
"""

import configparser
import os
import re
import shutil
import subprocess

import pytest

import harness

BUILD_DIR = os.path.dirname(os.path.abspath(harness.BIN))
CPACK_CONFIG = os.path.join(BUILD_DIR, "CPackConfig.cmake")

pytestmark = pytest.mark.skipif(not os.path.exists(CPACK_CONFIG) or not shutil.which("dpkg-shlibdeps"),
                                reason="needs a configured build tree and dpkg-dev")


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("cpack")
    run("cpack", "--config", CPACK_CONFIG, "-B", str(out))
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    assert len(debs) == 1, os.listdir(out)
    root = out / "root"
    control = out / "control"
    run("dpkg-deb", "-x", str(out / debs[0]), str(root))
    run("dpkg-deb", "-e", str(out / debs[0]), str(control))
    return {"deb": str(out / debs[0]), "root": root, "control": control}


def listing(deb):
    """path -> (mode string, owner/group) from dpkg-deb -c."""
    entries = {}
    for line in run("dpkg-deb", "-c", deb).stdout.splitlines():
        mode, owner, _size, _date, _time, path = line.split(None, 5)
        entries[path.split(" -> ")[0].lstrip(".")] = (mode, owner)
    return entries


def field(deb, name):
    return run("dpkg-deb", "-f", deb, name).stdout.strip()


def test_name_version_and_depends(package):
    version = re.search(r"project\(relaypool VERSION (\S+)",
                        open(os.path.join(harness.SOURCE_DIR, "CMakeLists.txt")).read()).group(1)
    arch = run("dpkg", "--print-architecture").stdout.strip()
    assert os.path.basename(package["deb"]) == f"relaypool_{version}_{arch}.deb"
    assert field(package["deb"], "Package") == "relaypool"
    assert field(package["deb"], "Version") == version
    assert field(package["deb"], "Section") == "mail"
    depends = [d.strip().split(" ")[0] for d in field(package["deb"], "Depends").split(",")]
    for lib in ("libc6", "libssl3", "libyaml-cpp0.7", "libcrypt1", "adduser"):
        assert lib in depends, depends


def test_files_and_modes(package):
    files = listing(package["deb"])
    expected = {
        "/usr/bin/relaypool": "-rwxr-xr-x",
        "/etc/relaypool/relaypool.yaml": "-rw-r-----",
        "/usr/lib/systemd/system/relaypool.service": "-rw-r--r--",
        "/usr/share/doc/relaypool/README.md": "-rw-r--r--",
        "/usr/share/doc/relaypool/docs/configuration.md": "-rw-r--r--",
        "/usr/share/doc/relaypool/examples/relaypool.yaml": "-rw-r--r--",
    }
    for path, mode in expected.items():
        assert path in files, sorted(files)
        assert files[path] == (mode, "root/root"), (path, files[path])
    # Nothing from the build or test trees.
    assert not [p for p in files if "test" in os.path.basename(p) or p.endswith((".a", ".o"))]


def test_maintainer_scripts(package):
    control = package["control"]
    assert (control / "conffiles").read_text().split() == ["/etc/relaypool/relaypool.yaml"]
    for name in ("postinst", "prerm", "postrm"):
        script = control / name
        assert os.stat(script).st_mode & 0o777 == 0o755
        run("sh", "-n", str(script))
    postinst = (control / "postinst").read_text()
    assert "adduser --system --group" in postinst
    assert "install -d -m 0750 -o relaypool -g relaypool /var/spool/relaypool /var/lib/relaypool" in postinst
    assert "dpkg-statoverride --update --add root relaypool" in postinst
    # Queued mail is never deleted by the package.
    assert "still holds queued messages" in (control / "postrm").read_text()


def test_shipped_config_is_a_valid_sandbox(package):
    config = package["root"] / "etc" / "relaypool" / "relaypool.yaml"
    r = subprocess.run([harness.BIN, "check-config", "--config", str(config)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    text = config.read_text()
    assert "sandbox: /var/lib/relaypool/sandbox-mail" in text
    assert "directory: /var/spool/relaypool" in text
    assert re.findall(r'^ *-? *address: "([^"]+)"', text, re.M) == ["127.0.0.1:587", "127.0.0.1:465", "127.0.0.1:9090"]


def unit(package):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    text = (package["root"] / "usr/lib/systemd/system/relaypool.service").read_text()
    # Repeated keys (ExecReload=, SystemCallFilter=) are legal in units: keep the last for the parser.
    parser.read_string("\n".join(line for line in text.splitlines() if not line.startswith("#")))
    return parser, text


def test_unit_keys(package):
    parser, text = unit(package)
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["User"] == "relaypool"
    assert service["ExecStart"] == "/usr/bin/relaypool serve --config /etc/relaypool/relaypool.yaml"
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert service["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert service["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"].split() == ["/var/spool/relaypool", "/var/lib/relaypool"]
    assert service["ProtectHome"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["RestrictAddressFamilies"].split() == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert "SystemCallFilter=@system-service" in text
    assert service["TimeoutStopSec"] == "30"  # relaypool's own stop deadline is 20 s (app/serve.cpp)
    assert parser["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify_and_security(package, tmp_path):
    # verify resolves the unit's dependencies and ExecStart= inside --root:
    # the package's files plus the host's standard targets.
    root = tmp_path / "root"
    shutil.copytree(package["root"], root, symlinks=True)
    units = root / "usr/lib/systemd/system"
    for name in os.listdir("/lib/systemd/system"):
        if name.endswith(".target") and not (units / name).exists():
            shutil.copy(os.path.join("/lib/systemd/system", name), units / name, follow_symlinks=True)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", "relaypool.service"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stdout + r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                        str(units / "relaypool.service")], capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for relaypool.service: ([0-9.]+) (\w+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0 and m.group(2) in ("OK", "SAFE"), m.group(0)
