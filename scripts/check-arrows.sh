#!/usr/bin/env bash
# Fails when a folder includes a header of a folder it may not depend on
# (HACKING.md "Dependency arrows"). The libraries' link dependencies in
# CMakeLists.txt follow the same table; this check also catches header-only
# uses that the linker cannot see.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [common]="common"
  [config]="config common"
  [metrics]="metrics common"
  [protocol]="protocol"
  [spool]="spool common metrics"
  [pool]="pool common config"
  [oauth]="oauth common"
  [relay]="relay spool pool oauth protocol config metrics common"
  [server]="server spool protocol config metrics common"
)
status=0
for folder in "${!allowed[@]}"; do
  while IFS= read -r line; do
    file=${line%%:*}
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$line")
    if [[ " ${allowed[$folder]} " != *" $dep "* ]]; then
      echo "$file: includes $dep/ (not allowed for $folder/: ${allowed[$folder]})"
      status=1
    fi
  done < <(grep -Hn '#include "[a-z_]*/' "$folder"/*.cpp "$folder"/*.hpp 2>/dev/null || true)
done
[ $status -eq 0 ] && echo "dependency arrows: ok"
exit $status
