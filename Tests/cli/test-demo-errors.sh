#!/usr/bin/env bash
# Bad input to demo fails with a clear message and a non-zero exit, never a crash.
set -uo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
check() { # expected-message command...
  local expect=$1; shift
  out=$("$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then echo "'$*' exited $rc (want a clean failure)"; echo "$out"; exit 1; fi
  grep -qi -- "$expect" <<< "$out" || { echo "'$*' did not say '$expect':"; echo "$out"; exit 1; }
}
check "no such directory" "$tool" demo "$dir/missing"
touch "$dir/file"
check "not a directory" "$tool" demo "$dir/file"
check "level for isal must be 0...3" "$tool" demo --level 4 "$dir"
check "level for zlib must be 0...9" "$tool" demo --codec zlib --level 10 "$dir"
check "codec must be isal, libdeflate or zlib" "$tool" demo --codec lz4 "$dir"
check "chunk" "$tool" demo --chunk-kib 1 "$dir"
# --tmpfs is checked before the (long) import: no import progress is printed.
mkdir "$dir/tree"; echo x > "$dir/tree/f"
check "$dir/missing-tmpfs" "$tool" demo --tmpfs "$dir/missing-tmpfs" "$dir/tree"
if grep -q "import:" <<< "$out"; then echo "--tmpfs was checked after the import:"; echo "$out"; exit 1; fi
# A host file that cannot be read says why.
check "cannot read $dir/missing-file: No such file or directory" "$tool" export "$dir/missing-file"
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  # Another user cannot read a root-only directory: demo fails and says why, never "0/0".
  chmod 755 "$dir"; mkdir "$dir/locked"; echo x > "$dir/locked/f"; chmod 700 "$dir/locked"
  check "cannot read $dir/locked: Permission denied" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" demo --tmpfs none "$dir/locked"
  # An unreadable file inside a readable tree is skipped with the reason.
  mkdir "$dir/open"; echo x > "$dir/open/secret"; chmod 600 "$dir/open/secret"; echo y > "$dir/open/public"
  out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$tool" demo --tmpfs none "$dir/open" 2>&1)
  grep -q "skipped $dir/open/secret (Permission denied)" <<< "$out" || { echo "skip reason missing:"; echo "$out"; exit 1; }
  grep -q "verified 1/1" <<< "$out" || { echo "$out"; exit 1; }
fi
echo "demo rejects bad input cleanly"
