#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing relaypool
# needs. Idempotent: when everything is present it does nothing (no apt-get update).
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libyaml-cpp-dev prometheus-cpp-dev doctest-dev
  libfmt-dev libcrypt-dev
  # tests
  clang clang-format libclang-rt-14-dev openssl python3 python3-pytest python3-yaml swaks curl util-linux
  # deployment kit checks (docker/, deploy/kubernetes/)
  yamllint
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  updated=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool (checks docker/prometheus/ in the tests) from Debian's `prometheus`
# package, without installing the package: that would create a user, pull
# ~100 MB and, where systemd runs, start a Prometheus server on port 9090.
# Only the statically linked promtool binary is taken from the .deb.
if ! command -v promtool >/dev/null 2>&1; then
  echo "install-deps: extracting promtool from Debian's prometheus package" >&2
  [ "$updated" -eq 1 ] || $SUDO apt-get update -qq
  tmp=$(mktemp -d)
  chmod 0755 "$tmp"  # apt-get download runs as _apt where it can
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq prometheus >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  $SUDO install -m 0755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool
fi
