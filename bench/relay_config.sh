# relay_config: the relaypool configuration the end-to-end benchmarks run
# with, on stdout: 60 accounts on the shared Gmail-like sink
# (../shared/bench), STARTTLS + AUTH submission for the user `bench`, fsync
# on. Sourced by run_e2e.sh, run_e2e_redis.sh and restart_bench.sh, so the
# sittings they compare run the same relay. Named arguments (set them for
# the call, e.g. `RC_SUBMISSION=2587 ... relay_config >file`):
#   RC_SUBMISSION  submission port            RC_SMTPS     implicit-TLS port (optional)
#   RC_METRICS     metrics port               RC_QUEUE     queue directory
#   RC_STATE       pool.state (path or URL)   RC_HASH      the user's password hash
#   RC_CA          the sink's CA file         RC_SINK      the sink's port (12587)
#   RC_RETRY       queue retry keys           RC_DAILY     daily limit per account (100000)
#   RC_LIMITS      the limits line (optional) RC_POOL      extra pool keys (optional)
relay_config() {
  echo "hostname: relay.bench.example"
  echo "listeners:"
  echo "  - { name: submission, address: \"127.0.0.1:$RC_SUBMISSION\", tls: starttls }"
  [ -n "${RC_SMTPS:-}" ] && echo "  - { name: smtps, address: \"127.0.0.1:$RC_SMTPS\", tls: implicit }"
  echo "tls: { self_signed: true }"
  echo "users:"
  echo "  - { username: bench, password_hash: \"$RC_HASH\" }"
  [ -n "${RC_LIMITS:-}" ] && echo "limits: { $RC_LIMITS }"
  echo "queue: { directory: \"$RC_QUEUE\", ${RC_RETRY:-retry_initial: 5s, retry_max: 1m} }"
  cat <<YAML
upstream:
  host: 127.0.0.1
  port: ${RC_SINK:-12587}
  tls: starttls
  ca_file: "$RC_CA"
  connections_per_account: 1
  messages_per_connection: 1000
pool:
  state: "$RC_STATE"
YAML
  [ -n "${RC_POOL:-}" ] && echo "  $RC_POOL"
  echo "  accounts:"
  for i in $(seq -w 1 60); do
    echo "    - { username: acct$i@pool.example, password: pw$i, daily_limit: ${RC_DAILY:-100000}, daily_recipient_limit: 0 }"
  done
  echo "metrics: { address: \"127.0.0.1:$RC_METRICS\" }"
  echo "logging: { level: warn }"
}
