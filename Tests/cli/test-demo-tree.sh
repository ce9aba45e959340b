#!/usr/bin/env bash
# demo imports a tree of edge cases (empty, one byte, chunk boundaries, incompressible,
# deep, long and odd names), verifies it byte for byte and reports exact statistics.
set -euo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/a/b/c/d/e" "$dir/empty-dir" "$dir/with space" "$dir/ünïcode"
: > "$dir/empty"
printf x > "$dir/one"
head -c 131071 /dev/zero > "$dir/a/chunk-minus-1"
head -c 131072 /dev/zero > "$dir/a/chunk"
head -c 131073 /dev/zero > "$dir/a/b/chunk-plus-1"
head -c 3000000 /dev/urandom > "$dir/a/b/c/random"
seq 1 400000 > "$dir/a/b/c/d/e/text"
printf 'hello' > "$dir/with space/file name"
printf 'ü' > "$dir/ünïcode/ß"
long=$(printf 'n%.0s' $(seq 1 255))
printf long > "$dir/$long"
files=$(find "$dir" -type f | wc -l)
bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

out=$("$tool" demo --chunk-kib 128 "$dir")
grep -q "verified $files/$files files byte for byte" <<< "$out" || { echo "$out"; echo "expected $files verified files"; exit 1; }
grep -q '^ERMFS' <<< "$out" || { echo "$out"; echo "no ERMFS row"; exit 1; }
grep -q '^tmpfs' <<< "$out" || { echo "$out"; echo "no tmpfs row"; exit 1; }
# Every backend at its extreme levels, background compression, and a small chunk size.
for args in "--codec isal --level 0" "--codec isal --level 3" "--codec libdeflate --level 12" \
            "--codec zlib --level 1" "--codec zlib --level 9" "--background"; do
  # shellcheck disable=SC2086
  out=$("$tool" demo --tmpfs none $args --chunk-kib 4 "$dir")
  grep -q "verified $files/$files" <<< "$out" || { echo "demo $args failed"; echo "$out"; exit 1; }
done
echo "demo verified $files files, $bytes bytes"
