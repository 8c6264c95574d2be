#!/usr/bin/env bash
# The README's test command: installs what is missing, builds the
# AddressSanitizer + UBSan configuration and runs every test (unit, fuzz
# corpus replay, format check, integration over real sockets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${BUILD_DIR:-build/asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DRELAYPOOL_SANITIZE=ON >/dev/null
cmake --build "$build" -j"${JOBS:-2}"
# detect_leaks stays on; UBSan failures are fatal (-fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j"${JOBS:-2}" "$@"
