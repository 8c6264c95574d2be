#!/usr/bin/env bash
# Restart with a backlog, the real binary (SPEC "Operations":
# the port answers within 2 s with 100,000 queued):
#   bench/restart_bench.sh [N...]          (default: 10000 100000)
# For each N:
# 1. bench/spool_bench.cpp queues N messages (4 KiB, one recipient) in
#    $BENCH_DIR (default /var/tmp) and gives each a deferred state file, as
#    after an upstream outage; the queue is kept as a template.
# 2. restart: relaypool (release) starts on a copy of it with the upstream
#    (the shared Gmail-like sink, 60 accounts) up. Measured from the exec:
#    the submission port's 220 greeting, the engine taking mail (/readyz 200,
#    recovery done), the first delivery at the sink, the last one.
# 3. drain after the upstream returns: relaypool starts on a fresh copy with
#    the sink down, recovers, fails its first attempts; then the sink starts.
#    Measured: sink up -> first delivery, and the drain rate (msg/s) from the
#    first delivery to the N-th.
# COLD=1 drops the page cache before the restart (root): a reboot, not a
# process restart. During the restart's drain bench/loop_probe.py times NOOP
# replies on one session: how long the event loop keeps a client waiting.
# The copy is synced before the start (fresh_copy): a restarted process finds
# a queue written long ago, not 400 MB of dirty pages that its first fsyncs
# would have to wait for (ext4 data=ordered; before the sync the 100k drain
# measured that writeback, ~330 msg/s). The page cache is warm: this is a process
# restart, not a cold boot. Timings only; not a test. Prints one line per
# figure; keep runs with `KEEP=1`. RELAYPOOL_BIN overrides the release
# build (an ASan build is several times slower: say so when quoting).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED_BENCH:-$root/../shared/bench}
[ -d "$shared" ] || shared=/work/shared/bench
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
PY=/usr/bin/python3
# shellcheck source=relay_config.sh
source "$here/relay_config.sh"
BASE=${BENCH_DIR:-/var/tmp}
SMTP_PORT=${SMTP_PORT:-22587} METRICS_PORT=${METRICS_PORT:-29090}
SINK_PORT=${SINK_PORT:-22588} SINK_HTTP=${SINK_HTTP:-22080}

cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >/dev/null
bin=${RELAYPOOL_BIN:-$root/build/release/relaypool}
cmake --build "$root/build/release" -j2 --target spool_bench $([ -n "${RELAYPOOL_BIN:-}" ] || echo relaypool) >/dev/null
spool_bench=$root/build/release/bench/spool_bench
work=$(mktemp -d "$BASE/relaypool-restart.XXXXXX")
sink_pid= relay_pid=
cleanup() {
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
  true
}
trap cleanup EXIT

# A copy of the template queue as a restart finds it: on disk, nothing dirty.
fresh_copy() {
  rm -rf "$work/q" && cp -a "$template" "$work/q"
  sync -f "$work/q"
}


mkdir -p "$work/sink"
ca=$("$PY" "$shared/sink.py" --make-cert --state-dir "$work/sink" | tail -n 1)
hash=$(printf 'secret\n' | "$bin" hash-password)

start_sink() {
  "$PY" "$shared/sink.py" --port "$SINK_PORT" --tls-port 0 --http-port "$SINK_HTTP" \
    --state-dir "$work/sink" >"$work/sink.log" 2>&1 &
  sink_pid=$!
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$SINK_HTTP) 2>/dev/null && return; sleep 0.05; done
  echo "sink did not start" >&2; exit 1
}
stop_sink() { kill "$sink_pid"; wait "$sink_pid" 2>/dev/null || true; sink_pid=; }
stop_relay() { kill "$relay_pid"; wait "$relay_pid" 2>/dev/null || true; relay_pid=; }

write_config() {  # $1 queue directory
  RC_SUBMISSION=$SMTP_PORT RC_METRICS=$METRICS_PORT RC_SINK=$SINK_PORT RC_QUEUE="$1" \
    RC_STATE="$work/pool.state" RC_HASH="$hash" RC_CA="$ca" RC_RETRY="retry_initial: 1s, retry_max: 3s" \
    RC_DAILY=1000000 RC_POOL="cooldown_temporary: 1s" relay_config >"$work/relaypool.yaml"
  rm -f "$work/pool.state"
}

# Times (seconds since $1, an epoch float) of: the 220 greeting, /readyz 200.
# Prints "greeting READY".
# With $2 = greeting: the greeting only (READY is printed as -).
probe_start() {
  "$PY" - "$1" "$SMTP_PORT" "$METRICS_PORT" "${2:-}" <<'PY'
import socket, sys, time, urllib.request
t0, smtp, metrics, only = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def greeting():
    while True:
        try:
            with socket.create_connection(("127.0.0.1", smtp), timeout=5) as s:
                if s.recv(4).startswith(b"220"):
                    return time.time() - t0
        except OSError:
            time.sleep(0.002)
def ready():
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/readyz", timeout=5) as r:
                if r.status == 200:
                    return time.time() - t0
        except OSError:
            pass
        time.sleep(0.01)
g = greeting()
print(f"{g:.3f} -" if only == "greeting" else f"{g:.3f} {ready():.3f}")
PY
}

# Waits until the sink has `$1` messages; prints "first_ts last_ts" (epoch).
wait_sink() {
  "$PY" - "$SINK_HTTP" "$1" <<'PY'
import json, sys, time, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
while True:
    s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10))
    if s["messages"] >= n:
        print(f'{s["first_msg_ts"]:.3f} {s["last_msg_ts"]:.3f}')
        break
    time.sleep(0.2)
PY
}

now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

for n in "${sizes[@]}"; do
  out=$(KEEP_DIR=1 WITH_STATE=1 "$spool_bench" "$work" "$n")
  template=$(echo "$out" | sed -n 's/^kept //p')
  n=$(echo "$out" | sed -n 's/^recover \([0-9]*\) messages.*/\1/p')  # spool_bench queues at least 6,200
  echo "N=$n: $(echo "$out" | grep -E '^(state files|recover)' | tr '\n' ';')"

  # 2. restart with the upstream up
  fresh_copy
  [ "${COLD:-0}" = 1 ] && echo 3 >/proc/sys/vm/drop_caches  # as after a reboot (root)
  write_config "$work/q"
  start_sink
  t0=$(now)
  "$bin" serve --config "$work/relaypool.yaml" 2>"$work/relay-$n-restart.log" &
  relay_pid=$!
  read -r greet ready < <(probe_start "$t0")
  rm -f "$work/stop-probe"
  "$PY" "$here/loop_probe.py" "$SMTP_PORT" "$work/stop-probe" >"$work/probe.txt" &
  probe_pid=$!
  read -r first last < <(wait_sink "$n")
  touch "$work/stop-probe" && wait "$probe_pid"
  echo "N=$n restart: 220 greeting after ${greet} s; mail taken (/readyz 200) after ${ready} s;" \
    "first delivery after $(calc "$first - $t0") s; all $n delivered after $(calc "$last - $t0") s;" \
    "event loop during the drain: $(cat "$work/probe.txt")"
  stop_relay
  stop_sink

  # 3. the drain after the upstream returns (SKIP_DRAIN=1: not measured)
  if [ "${SKIP_DRAIN:-0}" = 1 ]; then rm -rf "$work/q" "$template"; continue; fi
  fresh_copy
  write_config "$work/q"
  t0=$(now)
  "$bin" serve --config "$work/relaypool.yaml" 2>"$work/relay-$n-drain.log" &
  relay_pid=$!
  read -r greet ready < <(probe_start "$t0" greeting)
  sleep 3  # first attempts fail (connection refused): the backlog is deferred
  t_up=$(now)
  start_sink
  read -r first last < <(wait_sink "$n")
  echo "N=$n drain: upstream back -> first delivery $(calc "$first - $t_up") s;" \
    "$n delivered in $(calc "$last - $t_up") s; drain $(calc "$n / ($last - $first)" 0) msg/s (first to last delivery)"
  stop_relay
  stop_sink
  rm -rf "$work/q" "$template"
done
