#!/usr/bin/env bash
# The README's run command: installs what is missing, builds a release
# binary and runs relaypool on the embedded default (examples/sandbox.yaml):
# a self-signed certificate, submission on 127.0.0.1:2587 (STARTTLS) and
# 127.0.0.1:2465 (implicit TLS), user `demo` / password `demo-password`, and
# an upstream sandbox that writes every outgoing message to ./sandbox-mail/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build/release}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target relaypool
mkdir -p var sandbox-mail
exec "$build/relaypool" serve --config examples/sandbox.yaml "$@"
