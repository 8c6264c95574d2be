#!/usr/bin/env bash
# End-to-end benchmark of relaypool against the Postfix baseline, in one sitting:
#   bench/run_e2e.sh [N] [C]        (defaults 20000 16)
# 1. builds a release relaypool, writes bench config (60 accounts on the
#    shared Gmail-like sink, fsync on, STARTTLS + AUTH on :2587);
# 2. runs ../shared/bench/run_baseline.sh N C (Postfix + rotor);
# 3. runs ../shared/bench/run_relay.sh N C against relaypool.
# Prints both summary lines; compare them as ratios (see ../shared/bench/README.md).
# SKIP_BASELINE=1 skips step 2; BENCH_DIR puts the queue elsewhere (default
# /tmp); RELAYPOOL_BIN runs another relaypool binary
# (a before/after pair in one sitting). Not a test: it reports, it does not
# pass or fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
N=${1:-20000}
C=${2:-16}
PY=/usr/bin/python3
# shellcheck source=relay_config.sh
source "$here/relay_config.sh"

"$root/scripts/install-deps.sh"
bin=${RELAYPOOL_BIN:-}
if [ -z "$bin" ]; then
  cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >/dev/null
  cmake --build "$root/build/release" -j2 --target relaypool >/dev/null
  bin=$root/build/release/relaypool
fi

work=$(mktemp -d "${BENCH_DIR:-/tmp}/relaypool-bench.XXXXXX")  # BENCH_DIR=/dev/shm: no disk, the CPU cost
ca=$("$PY" "$shared/sink.py" --make-cert | tail -n 1)
hash=$(printf 'secret\n' | "$bin" hash-password)
RC_SUBMISSION=2587 RC_SMTPS=2465 RC_METRICS=19090 RC_QUEUE="$work/spool" RC_STATE="$work/pool.state" \
  RC_HASH="$hash" RC_CA="$ca" RC_LIMITS="max_connections_per_ip: 2000, auth_failure_delay: 2s" \
  relay_config >"$work/relaypool.yaml"

if [ "${SKIP_BASELINE:-0}" != 1 ]; then
  (cd "$shared" && ./run_baseline.sh "$N" "$C" | tail -n 1)
fi

"$bin" serve --config "$work/relaypool.yaml" 2>"$work/relaypool.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/2587) 2>/dev/null && break; sleep 0.1; done
(cd "$shared" && RELAY_PORT=2587 RELAY_USER=bench RELAY_PASS=secret RELAY_PIDS="$pid" LABEL=relaypool \
  ./run_relay.sh "$N" "$C" | tail -n 1)
echo "relaypool log: $work/relaypool.log"
