#!/usr/bin/env bash
# Checks that every library archive given carries libFuzzer coverage
# instrumentation (__sanitizer_cov_* references) and AddressSanitizer
# (__asan_* references). Run by ctest in the fuzz build (tests/CMakeLists.txt)
# so a change to the build flags cannot silently blind the fuzzers again.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 ARCHIVE..." >&2; exit 2; }
fail=0
for a in "$@"; do
  syms=$(nm -A "$a" 2>/dev/null || true)
  cov=$(grep -c '__sanitizer_cov_' <<<"$syms" || true)
  asan=$(grep -c '__asan_' <<<"$syms" || true)
  ubsan=$(grep -c '__ubsan_handle_' <<<"$syms" || true)
  echo "$(basename "$a"): sanitizer_cov=$cov asan=$asan ubsan=$ubsan"
  if [ "$cov" -eq 0 ] || [ "$asan" -eq 0 ] || [ "$ubsan" -eq 0 ]; then
    echo "  NOT instrumented: $a" >&2
    fail=1
  fi
done
exit $fail
