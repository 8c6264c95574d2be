#!/usr/bin/env bash
# The README's first command: installs the build packages if missing, builds
# a release binary and runs `relaypool serve --sandbox` (the configuration
# built into the binary: nothing leaves the machine, every message becomes
# an .eml file). One line per step; compiler output goes to a log file that
# is printed when the build fails.
#
# Environment:
#   BUILD_DIR        build tree (default build/release); an already configured
#                    tree is reused as it is (e.g. BUILD_DIR=build/asan)
#   JOBS             parallel compile jobs (default 2)
#   SUBMISSION_PORT  STARTTLS submission port (default 2587)
#   SMTPS_PORT       implicit TLS port (default 2465)
#   METRICS_PORT     metrics / health / admin API port (default 9090)
#   DATA_DIR         queue, delivered mail and the CA to trust (default ./relaypool-sandbox)
# Arguments are passed to `relaypool serve --sandbox` (see `relaypool --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build/release}
jobs=${JOBS:-2}
step() { printf 'run-sandbox: %s\n' "$*"; }

if ! scripts/install-deps.sh --build-only --check; then
  step "installing build packages (once)..."
  scripts/install-deps.sh --build-only
fi

mkdir -p "$build"
log=$(cd "$build" && pwd)/run-sandbox-build.log
: >"$log"
if [ -f "$build/CMakeCache.txt" ]; then
  step "reusing the configured build tree $build"
else
  step "configuring $build (Release)..."
  if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >>"$log" 2>&1; then
    step "configuring failed; the full log is $log:"
    tail -n 40 "$log" >&2
    exit 1
  fi
fi

step "building $build/relaypool (about 4 min the first time on 2 cores, seconds after; log: $log)..."
started=$SECONDS
if ! cmake --build "$build" -j"$jobs" --target relaypool >>"$log" 2>&1; then
  step "the build failed; the last lines follow, the full log is $log"
  tail -n 60 "$log" >&2
  exit 1
fi
step "built in $((SECONDS - started)) s"

args=(serve --sandbox)
[ -n "${SUBMISSION_PORT:-}" ] && args+=(--port-submission "$SUBMISSION_PORT")
[ -n "${SMTPS_PORT:-}" ] && args+=(--port-smtps "$SMTPS_PORT")
[ -n "${METRICS_PORT:-}" ] && args+=(--port-metrics "$METRICS_PORT")
[ -n "${DATA_DIR:-}" ] && args+=(--data-dir "$DATA_DIR")
step "serving on 127.0.0.1:${SUBMISSION_PORT:-2587} (STARTTLS), 127.0.0.1:${SMTPS_PORT:-2465} (TLS)," \
  "metrics http://127.0.0.1:${METRICS_PORT:-9090}; Ctrl-C stops"
exec "$build/relaypool" "${args[@]}" "$@"
