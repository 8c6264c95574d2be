#!/usr/bin/env bash
# End-to-end throughput of two relaypool instances sharing one Redis versus
# one instance with the embedded pool.state, in one sitting
# (bench/README.md "Shared pool state in Redis"):
#   bench/run_e2e_redis.sh [N] [C]        (defaults 20000 16)
# 1. builds a release relaypool and bench/redis_reserve; starts a throwaway
#    redis-server (appendonly, appendfsync always: the durable setting);
# 2. reservation round trips/s against it (bench/redis_reserve);
# 3. ../shared/bench/run_relay.sh N C through bench/tcp_balance.py (a
#    round-robin TCP forwarder standing in for the load balancer) to
#    a) one instance, pool.state a file, and b) two instances, pool.state
#    redis://. Both runs go through the forwarder, so they pay the same
#    extra hop; the CPU charged is relaypool's (and Redis's in b).
# SKIP_RESERVE=1 skips step 2; SHARED_BENCH=DIR if ../shared/bench is elsewhere.
# Not a test: it reports, it does not pass or fail. On a 2-core machine the
# two instances, Redis, the sink and the load generator share the cores.
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
cmake -S "$root" -B "$root/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRELAYPOOL_TESTS=OFF >/dev/null
cmake --build "$root/build/release" -j2 --target relaypool redis_reserve >/dev/null

work=$(mktemp -d /tmp/relaypool-bench-redis.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

redis_port=16379
mkdir -p "$work/redis"
redis-server --port $redis_port --bind 127.0.0.1 --dir "$work/redis" --save "" --appendonly yes \
  --appendfsync always >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_port $redis_port

if [ "${SKIP_RESERVE:-0}" != 1 ]; then
  echo "== reservation round trips (bench/redis_reserve, local Redis, appendfsync always)"
  "$root/build/release/bench/redis_reserve" $redis_port 20000
fi

ca=$("$PY" "$shared/sink.py" --make-cert | tail -n 1)
hash=$(printf 'secret\n' | "$root/build/release/relaypool" hash-password)
config() {  # NAME SUBMISSION_PORT METRICS_PORT STATE
  RC_SUBMISSION=$2 RC_METRICS=$3 RC_QUEUE="$work/$1/spool" RC_STATE="$4" RC_HASH="$hash" RC_CA="$ca" \
    RC_LIMITS="max_connections_per_ip: 2000, auth_failure_delay: 2s" relay_config
}
start_relay() {  # NAME SUBMISSION_PORT METRICS_PORT STATE
  mkdir -p "$work/$1"
  config "$@" >"$work/$1/relaypool.yaml"
  "$root/build/release/relaypool" serve --config "$work/$1/relaypool.yaml" 2>"$work/$1/relaypool.log" &
  pids+=("$!")
  wait_port "$2"
}
run() {  # LABEL RELAY_PIDS BACKEND_PORTS...
  local label=$1 relay_pids=$2
  shift 2
  "$PY" "$here/tcp_balance.py" 4587 "$@" &
  local lb=$!
  pids+=("$lb")
  wait_port 4587
  (cd "$shared" && RELAY_PORT=4587 RELAY_USER=bench RELAY_PASS=secret RELAY_PIDS="$relay_pids" LABEL="$label" \
    ./run_relay.sh "$N" "$C" | tail -n 1)
  kill "$lb"
  wait "$lb" 2>/dev/null || true
}

echo "== one instance, pool.state a file"
start_relay one 2587 19090 "$work/one/pool.state"
one_pid=${pids[-1]}
run relaypool-file "$one_pid" 2587
kill "$one_pid"
wait "$one_pid" 2>/dev/null || true

echo "== two instances, pool.state redis://"
url="redis://127.0.0.1:$redis_port/0?prefix=e2e"
start_relay a 3587 19091 "$url"
a_pid=${pids[-1]}
start_relay b 3588 19092 "$url"
b_pid=${pids[-1]}
run relaypool-redis-x2 "$a_pid $b_pid $redis_pid" 3587 3588
echo "work dir: $work"
