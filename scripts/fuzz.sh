#!/usr/bin/env bash
# The fuzz campaign in one command (tests/fuzz/README.md).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all, 3600 CPU s per target
#   scripts/fuzz.sh summary                    CPU, executions, coverage per target
#                                              over every sitting (campaign.tsv)
#
# Builds the fuzz configuration with clang into build/fuzz (-DRELAYPOOL_FUZZ=ON:
# every rp_* library instrumented for coverage and built with ASan + UBSan;
# ctest fuzz.instrumented checks it), then runs each target until it has had
# SECONDS of CPU time (in segments when the machine is shared) on
# the checked-in corpus + regression inputs with its dictionary, merges
# (-set_cover_merge=1: -merge=1 with a minimal set cover) the inputs that add
# coverage into tests/fuzz/corpus/TARGET, and
# copies every crasher (crash-, leak-, timeout-, oom-) into
# tests/fuzz/regressions/TARGET, which the normal test run replays.
#
# Environment: NICE (default 19), PARALLEL (targets run at once, default 1),
# FUZZ_ARGS (extra libFuzzer flags), BUILD_DIR (default build/fuzz),
# MINIMIZE=1 (rewrite each repo corpus as a minimal set after merging),
# SKIP_BUILD=1 (use the binaries already in $BUILD_DIR), FUZZ_NOTE (the
# ledger row's note). Each segment appends a row to tests/fuzz/campaign.tsv.
# Per-target logs and the work corpus: $BUILD_DIR/run/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD_DIR:-build/fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac  # relative to the repository
target=${1:-all}
seconds=${2:-3600}
nice_level=${NICE:-19}
parallel=${PARALLEL:-1}

# Per target over every sitting in the ledger: CPU, executions, last cov/ft,
# crashers, and whether the issue's hour is done.
summary() {
  printf "%-26s %9s %6s %13s %6s %6s %8s  %s\n" target "CPU s" runs executions cov ft crashers hour
  awk -F'\t' 'NR > 1 && $3 != "" {
      cpu[$3] += $4; ex[$3] += $6; cov[$3] = $7; ft[$3] = $8; cr[$3] += $10; n[$3]++ }
    END {
      for (t in cpu)
        printf "%-26s %9.0f %6d %13d %6d %6d %8d  %s\n", t, cpu[t], n[t], ex[t], cov[t], ft[t], cr[t],
          (cpu[t] >= 3600 ? "done" : sprintf("%.0f min left", (3600 - cpu[t]) / 60))
    }' "$root/tests/fuzz/campaign.tsv" | sort
}
if [ "$target" = summary ]; then summary; exit 0; fi

scripts/install-deps.sh  # clang + libclang-rt-14-dev (libFuzzer) are test packages
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/install-deps.sh)" >&2; exit 1; }

all_targets() {
  for f in tests/fuzz/fuzz_*.cpp; do basename "$f" .cpp; done
}
if [ "$target" = all ]; then
  targets=$(all_targets)
else
  [ -f "tests/fuzz/$target.cpp" ] || { echo "fuzz.sh: no target $target (have: $(all_targets | xargs))" >&2; exit 2; }
  targets=$target
fi

# ---- build ------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRELAYPOOL_FUZZ=ON >/dev/null
libs="rp_common rp_protocol rp_config rp_metrics rp_spool rp_pool rp_oauth rp_relay rp_server"
nice -n "$nice_level" cmake --build "$build" -j"${JOBS:-2}" --target $libs $(all_targets)
ctest --test-dir "$build" -R 'fuzz\.instrumented' --output-on-failure
fi

# ---- run --------------------------------------------------------------------
dict_for() {
  case $1 in
    fuzz_command | fuzz_server_session | fuzz_data_reader) echo tests/fuzz/smtp.dict ;;
    *) [ -f "tests/fuzz/$1.dict" ] && echo "tests/fuzz/$1.dict" ;;
  esac
}

# One libFuzzer run of target $1 for at most $2 wall seconds, appended to
# $work/fuzz.log; prints "cpu_seconds exit_code". The CPU time it really got
# (user + sys, from `time`) is what the budget counts: on a shared machine a
# wall hour at nice 19 can be a few CPU-minutes.
segment() {
  local t=$1 wall=$2 bin="$build/tests/$1" work="$build/run/$1"
  local corpus="$root/tests/fuzz/corpus/$1" regress="$root/tests/fuzz/regressions/$1"
  local dict args=() extra=()
  dict=$(dict_for "$t" || true)
  [ -n "$dict" ] && args+=("-dict=$root/$dict")
  args+=($(flags_for "$t"))
  [ -d "$regress" ] && extra=("$regress")
  local TIMEFORMAT="%U %S %R" rc
  set +e
  # The first corpus dir receives new inputs; the repo's dirs are only read.
  { time nice -n "$nice_level" "$bin" -max_total_time="$wall" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${args[@]}" ${FUZZ_ARGS:-} \
    "$work/new" "$corpus" "${extra[@]}" >>"$work/fuzz.log" 2>&1; } 2>"$work/time.txt"
  rc=$?
  # (A fuzzer killed by a signal makes bash write "Killed" lines first: the
  # timing is the last line of three numbers.)
  awk -v rc="$rc" 'NF == 3 && $1 ~ /^[0-9.]+$/ { t = $1 + $2; w = $3 }
    END { printf "%.1f %.1f %d\n", t, w, rc }' "$work/time.txt"
}

# Appends one row to the campaign ledger (tests/fuzz/campaign.tsv): what one
# segment of one target got and reached, so the CPU per target adds up over
# sittings (`scripts/fuzz.sh summary`).
ledger_row() {
  local t=$1 cpu=$2 wall=$3 rc=$4 crashers=$5 log="$build/run/$1/segment.log"
  local execs cov ft corp
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}' || true)
  # (An interrupted run prints no final stats: its last status line counts.)
  [ -n "$execs" ] || execs=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -E 's/^#([0-9]+).*/\1/' || true)
  read -r cov ft corp < <(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 |
    sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/\1 \2 \3/' || true) || true
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" \
    "$(git -C "$root" rev-parse --short HEAD)" "$t" "$cpu" "$wall" "${execs:-0}" "${cov:-0}" \
    "${ft:-0}" "${corp:-0}" "$crashers" "$rc" "${FUZZ_NOTE:-nice $nice_level, parallel $parallel}" \
    >>"$root/tests/fuzz/campaign.tsv"
}

# libFuzzer flags a target needs. fuzz_spool_recovery: the spool logs what it
# quarantines on every input; its stderr is closed (libFuzzer keeps its own
# output and the sanitizers' reports on a copy of it).
flags_for() {
  case $1 in
    fuzz_spool_recovery) echo -close_fd_mask=2 ;;
  esac
}

run_one() {
  local t=$1 bin="$build/tests/$1" work="$build/run/$1"
  local corpus="$root/tests/fuzz/corpus/$t" regress="$root/tests/fuzz/regressions/$t"
  mkdir -p "$work/new" "$work/artifacts" "$corpus"
  : >"$work/fuzz.log"
  echo "== $t: ${seconds} CPU seconds (log $work/fuzz.log)"
  local used=0 found=0 rc=0 cpu wall
  # Segments until the target has had its CPU budget (one on an idle
  # machine). A crash ends the target's run: it is to be fixed first.
  while awk -v u="$used" -v s="$seconds" 'BEGIN { exit !(u < s - 1) }'; do
    local left before_log
    left=$(awk -v u="$used" -v s="$seconds" 'BEGIN { printf "%d", s - u + 0.999 }')
    before_log=$(wc -l <"$work/fuzz.log")
    read -r cpu wall rc < <(segment "$t" "$left")
    tail -n +"$((before_log + 1))" "$work/fuzz.log" >"$work/segment.log"
    # Keep every crasher as a regression input (replayed by scripts/test.sh).
    # (slow-unit- files are not crashers: on a shared machine they mostly
    # measure a starved process; they are left in the log, not kept.)
    local seg_found=0
    for a in "$work"/artifacts/{crash,leak,timeout,oom}-*; do
      [ -f "$a" ] || continue
      mkdir -p "$regress"
      cp "$a" "$regress/"
      seg_found=$((seg_found + 1))
      echo "   crasher kept: tests/fuzz/regressions/$t/$(basename "$a")"
    done
    rm -f "$work"/artifacts/*
    found=$((found + seg_found))
    ledger_row "$t" "$cpu" "$wall" "$rc" "$seg_found"
    used=$(awk -v u="$used" -v c="$cpu" 'BEGIN { print u + c }')
    echo "   $t: segment of ${wall}s wall got ${cpu} CPU s (total $used), exit $rc"
    [ "$rc" -ne 0 ] && break
    # A fuzzer that ended by itself well before its time (-runs in
    # FUZZ_ARGS, a binary that is no fuzzer) will not spend the budget.
    awk -v w="$wall" -v l="$left" 'BEGIN { exit !(w < l / 2) }' && break
    # A segment that got no CPU at all (machine saturated): wait, try again.
    awk -v c="$cpu" 'BEGIN { exit !(c < 1) }' && sleep 10
  done
  # Merge what adds coverage into the repo's corpus.
  local before after
  before=$(ls "$corpus" | wc -l)
  nice -n "$nice_level" "$bin" -set_cover_merge=1 "$corpus" "$work/new" >"$work/merge.log" 2>&1 || true
  if [ "${MINIMIZE:-0}" = 1 ]; then
    rm -rf "$work/min" && mkdir -p "$work/min"
    nice -n "$nice_level" "$bin" -set_cover_merge=1 "$work/min" "$corpus" >>"$work/merge.log" 2>&1 &&
      [ -n "$(ls "$work/min")" ] && rm -f "$corpus"/* && cp "$work/min"/* "$corpus/"
  fi
  after=$(ls "$corpus" | wc -l)
  local stats
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$work/fuzz.log" | tail -1 || true)
  echo "   $t: CPU $used s, exit $rc, crashers $found, corpus $before -> $after, last: $stats"
}


export -f run_one segment ledger_row dict_for flags_for
export root build seconds nice_level parallel
if [ "$parallel" -gt 1 ]; then
  printf '%s\n' $targets | xargs -P "$parallel" -I{} bash -c 'run_one {}'
else
  for t in $targets; do run_one "$t"; done
fi
