#!/usr/bin/env bash
# End-to-end benchmark of relaypool against the Postfix baseline, in one sitting:
#   bench/run_e2e.sh [N] [C]        (defaults 20000 16)
# 1. builds a release relaypool, writes bench config (60 accounts on the
#    shared Gmail-like sink, fsync on, STARTTLS + AUTH on :2587);
# 2. runs ../shared/bench/run_baseline.sh N C (Postfix + rotor);
# 3. runs ../shared/bench/run_relay.sh N C against relaypool.
# Prints both summary lines; compare them as ratios (see ../shared/bench/README.md).
# SKIP_BASELINE=1 skips step 2. Not a test: it reports, it does not pass or fail.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
N=${1:-20000}
C=${2:-16}
PY=/usr/bin/python3

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >/dev/null
cmake --build "$root/build/release" -j2 --target relaypool >/dev/null

work=$(mktemp -d /tmp/relaypool-bench.XXXXXX)
ca=$("$PY" "$shared/sink.py" --make-cert | tail -n 1)
hash=$(printf 'secret\n' | "$root/build/release/relaypool" hash-password)
{
  cat <<YAML
hostname: relay.bench.example
listeners:
  - { name: submission, address: "127.0.0.1:2587", tls: starttls }
  - { name: smtps, address: "127.0.0.1:2465", tls: implicit }
tls: { self_signed: true }
users:
  - { username: bench, password_hash: "$hash" }
limits: { max_connections_per_ip: 2000, auth_failure_delay: 2s }
queue: { directory: "$work/spool", retry_initial: 5s, retry_max: 1m }
upstream:
  host: 127.0.0.1
  port: 12587
  tls: starttls
  ca_file: "$ca"
  connections_per_account: 1
  messages_per_connection: 1000
pool:
  state: "$work/pool.state"
  accounts:
YAML
  for i in $(seq -w 1 60); do
    echo "    - { username: acct$i@pool.example, password: pw$i, daily_limit: 100000, daily_recipient_limit: 0 }"
  done
  cat <<YAML
metrics: { address: "127.0.0.1:19090" }
logging: { level: warn }
YAML
} >"$work/relaypool.yaml"

if [ "${SKIP_BASELINE:-0}" != 1 ]; then
  (cd "$shared" && ./run_baseline.sh "$N" "$C" | tail -n 1)
fi

"$root/build/release/relaypool" serve --config "$work/relaypool.yaml" 2>"$work/relaypool.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/2587) 2>/dev/null && break; sleep 0.1; done
(cd "$shared" && RELAY_PORT=2587 RELAY_USER=bench RELAY_PASS=secret RELAY_PIDS="$pid" LABEL=relaypool \
  ./run_relay.sh "$N" "$C" | tail -n 1)
echo "relaypool log: $work/relaypool.log"
