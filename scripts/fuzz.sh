#!/usr/bin/env bash
# The fuzz campaign in one command (issue 18; tests/fuzz/README.md).
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all, 3600 s per target
#
# Builds the fuzz configuration with clang into build/fuzz (-DRELAYPOOL_FUZZ=ON:
# every rp_* library instrumented for coverage and built with ASan + UBSan;
# ctest fuzz.instrumented checks it), then runs each target for SECONDS on
# the checked-in corpus + regression inputs with its dictionary, merges
# (-set_cover_merge=1: -merge=1 with a minimal set cover) the inputs that add
# coverage into tests/fuzz/corpus/TARGET, and
# copies every crasher (crash-, leak-, timeout-, oom-) into
# tests/fuzz/regressions/TARGET, which the normal test run replays.
#
# Environment: NICE (default 19), PARALLEL (targets run at once, default 1),
# FUZZ_ARGS (extra libFuzzer flags), BUILD_DIR (default build/fuzz),
# MINIMIZE=1 (rewrite each repo corpus as a minimal set after merging),
# SKIP_BUILD=1 (use the binaries already in $BUILD_DIR).
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

run_one() {
  local t=$1 bin="$build/tests/$1" work="$build/run/$1"
  local corpus="$root/tests/fuzz/corpus/$t" regress="$root/tests/fuzz/regressions/$t"
  mkdir -p "$work/new" "$work/artifacts" "$corpus"
  local dict args=()
  dict=$(dict_for "$t" || true)
  [ -n "$dict" ] && args+=("-dict=$root/$dict")
  local extra=()
  [ -d "$regress" ] && extra=("$regress")
  echo "== $t: ${seconds}s (log $work/fuzz.log)"
  # The first corpus dir receives new inputs; the repo's dirs are only read.
  # The CPU time it really got (the machine may be shared): cpu.txt.
  set +e
  local TIMEFORMAT="cpu_user_s %U cpu_sys_s %S wall_s %R"
  { time nice -n "$nice_level" "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${args[@]}" ${FUZZ_ARGS:-} \
    "$work/new" "$corpus" "${extra[@]}" >"$work/fuzz.log" 2>&1; } 2>"$work/cpu.txt"
  local rc=$?
  set -e
  # Keep every crasher as a regression input (replayed by scripts/test.sh).
  local found=0
  # (slow-unit- files are not crashers: on a shared machine they mostly
  # measure a starved process; they are left in the log, not kept.)
  for a in "$work"/artifacts/{crash,leak,timeout,oom}-*; do
    [ -f "$a" ] || continue
    mkdir -p "$regress"
    cp "$a" "$regress/"
    found=$((found + 1))
    echo "   crasher kept: tests/fuzz/regressions/$t/$(basename "$a")"
  done
  rm -f "$work"/artifacts/*
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
  echo "   $t: exit $rc, crashers $found, corpus $before -> $after, last: $stats"
  grep -E '^stat::' "$work/fuzz.log" | sed 's/^/   /' || true
  sed 's/^/   /' "$work/cpu.txt"
}

export -f run_one dict_for
export root build seconds nice_level
if [ "$parallel" -gt 1 ]; then
  printf '%s\n' $targets | xargs -P "$parallel" -I{} bash -c 'run_one {}'
else
  for t in $targets; do run_one "$t"; done
fi
