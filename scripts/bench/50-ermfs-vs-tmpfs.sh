#!/usr/bin/env bash
# ERMFS write+close / open+read throughput and memory vs tmpfs files vs gzip, same corpus,
# same run. Usage: scripts/bench/50-ermfs-vs-tmpfs.sh [DIR]   (default /usr/include)
set -euo pipefail
cd "$(dirname "$0")/../.."
tool=Tools/.build/release/ermfs-tool
corpus=${1:-/usr/include}
[ -x "$tool" ] || swift build -c release --package-path Tools >/dev/null
echo "machine: $(nproc) cores; corpus: $corpus ($(du -sh "$corpus" | cut -f1))"
for level in 1 6; do
  echo "--- ermfs-tool demo --level $level $corpus"
  /usr/bin/time -f "peak RSS %M KiB, wall %e s" "$tool" demo --level "$level" "$corpus" 2>&1 | grep -v '^import\|^verify'
done
# gzip over the same bytes (one tar stream, in tmpfs so the disk is not measured).
work=$(mktemp -d /dev/shm/ermfs-bench-XXXXXX); trap 'rm -rf "$work"' EXIT
tar -C "$(dirname "$corpus")" -cf "$work/corpus.tar" "$(basename "$corpus")" 2>/dev/null
size=$(stat -c %s "$work/corpus.tar")
for level in 1 6; do
  start=$(date +%s.%N); gzip -"$level" -c "$work/corpus.tar" > "$work/c.gz"; end=$(date +%s.%N)
  out=$(stat -c %s "$work/c.gz")
  start2=$(date +%s.%N); gzip -dc "$work/c.gz" > /dev/null; end2=$(date +%s.%N)
  awk -v s="$size" -v o="$out" -v a="$start" -v b="$end" -v c="$start2" -v d="$end2" -v l="$level" \
    'BEGIN { printf "gzip -%s: %.0f MB/s compress, %.0f MB/s gzip -d, ratio %.3f\n", l, s/(b-a)/1e6, s/(d-c)/1e6, o/s }'
done
