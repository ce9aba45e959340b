#!/usr/bin/env bash
# export hands out a memfd whose bytes equal the file (compressed on close, decompressed
# into the memfd); exec runs a stored program from memory through fexecve.
set -euo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
seq 1 200000 > "$dir/text"
head -c 300000 /dev/urandom > "$dir/random"
: > "$dir/empty"
for f in text random empty; do
  "$tool" export --cat "$dir/$f" | cmp - "$dir/$f"
  "$tool" export --sealed --cat "$dir/$f" | cmp - "$dir/$f"
done
"$tool" export --import "$dir" --cat "/$(basename "$dir")/text" | cmp - "$dir/text"
# A missing file is a clean failure that names the path.
if out=$("$tool" export --import "$dir" "/$(basename "$dir")/missing" 2>&1); then
  echo "export of a missing path succeeded: $out"; exit 1
fi
grep -q missing <<< "$out" || { echo "error does not name the path: $out"; exit 1; }
out=$("$tool" exec /bin/echo hello from memory)
[ "$out" = "hello from memory" ] || { echo "exec printed '$out'"; exit 1; }
echo "export and exec round-trip"
