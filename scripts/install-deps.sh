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
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
