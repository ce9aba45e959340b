#!/usr/bin/env bash
# Cross-package integration tests: every Tests/*/test-*.sh gets the ermfs-tool path.
set -uo pipefail
tool=$(readlink -f "${1:?usage: Tests/run.sh PATH/TO/ermfs-tool}")
cd "$(dirname "$0")"
pass=0; fail=0
for t in */test-*.sh; do
  [ -e "$t" ] || continue
  if bash "$t" "$tool"; then echo "PASS $t"; pass=$((pass+1)); else echo "FAIL $t"; fail=$((fail+1)); fi
done
echo "integration: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
