#!/usr/bin/env bash
# Installs the Debian 12 packages relaypool needs. Idempotent: when everything
# is present it does nothing (no apt-get update, no sudo).
#
#   scripts/install-deps.sh               build + test packages (scripts/test.sh)
#   scripts/install-deps.sh --build-only  what building and running need (scripts/run-sandbox.sh)
#   ... --check                           install nothing; exit 1 when something is missing
#
# Not root: says so, then runs apt-get through sudo.
set -euo pipefail

build_packages=(
  g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libyaml-cpp-dev prometheus-cpp-dev libfmt-dev libcrypt-dev
  libhiredis-dev
)
test_packages=(
  doctest-dev clang clang-format libclang-rt-14-dev openssl python3 python3-pytest python3-yaml swaks curl
  # the fake XOAUTH2 token endpoint verifies RS256 JWTs (tests/integration/fake_token_endpoint.py)
  python3-cryptography
  util-linux
  # the package test: cpack's dpkg-shlibdeps, and systemd-analyze for the unit
  dpkg-dev systemd
  # swaks needs these for --tls (it says "requires Net::SSLeay" otherwise)
  libnet-ssleay-perl libio-socket-ssl-perl
  # deployment kit checks (docker/, deploy/kubernetes/)
  yamllint
  # shared pool state tests and bench: a real Redis, started by the tests
  redis-server
)

packages=("${build_packages[@]}")
check_only=false
with_tests=true
for arg in "$@"; do
  case "$arg" in
    --build-only) with_tests=false ;;
    --check) check_only=true ;;
    *) echo "usage: $0 [--build-only] [--check]" >&2; exit 2 ;;
  esac
done
$with_tests && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_promtool=false
$with_tests && ! command -v promtool >/dev/null 2>&1 && need_promtool=true

if [ ${#missing[@]} -eq 0 ] && ! $need_promtool; then
  exit 0
fi
$check_only && exit 1

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root: running apt-get through sudo (it may ask for your password)" >&2
  SUDO=sudo
fi
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# promtool (checks docker/prometheus/ in the tests) from Debian's `prometheus`
# package, without installing the package: that would create a user, pull
# ~100 MB and, where systemd runs, start a Prometheus server on port 9090.
# Only the statically linked promtool binary is taken from the .deb.
if $need_promtool; then
  echo "install-deps: extracting promtool from Debian's prometheus package" >&2
  tmp=$(mktemp -d)
  chmod 0755 "$tmp"  # apt-get download runs as _apt where it can
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download -qq prometheus >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  $SUDO install -m 0755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool
fi
