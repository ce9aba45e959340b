#!/usr/bin/env bash
# demo --lockless runs the import and byte-for-byte verification on ErmCore's lock-free
# namespace and descriptor table.
set -euo pipefail
tool=$1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/a/b" "$dir/c"
seq 1 200000 > "$dir/a/b/text"
head -c 300000 /dev/urandom > "$dir/c/random"
for i in $(seq 1 50); do printf 'file %d\n' "$i" > "$dir/a/f$i"; done
out=$("$tool" demo --lockless --tmpfs none "$dir" 2>/dev/null)
echo "$out" | tail -n 3
grep -q '^locking: lockless$' <<< "$out"
grep -Eq 'verified 52/52 files byte for byte' <<< "$out"
