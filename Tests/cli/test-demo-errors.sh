#!/usr/bin/env bash
# Bad input to demo fails with a clear message and a non-zero exit, never a crash.
set -uo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
check() { # expected-message command...
  local expect=$1; shift
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "'$*' exited $rc (want a clean failure)"; echo "$out"; exit 1; fi
  echo "$out" | grep -qi -- "$expect" || { echo "'$*' did not say '$expect':"; echo "$out"; exit 1; }
}
check "no such directory" "$tool" demo "$dir/missing"
touch "$dir/file"
check "not a directory" "$tool" demo "$dir/file"
check "level" "$tool" demo --level 0 "$dir"
check "chunk" "$tool" demo --chunk-kib 1 "$dir"
echo "demo rejects bad input cleanly"
