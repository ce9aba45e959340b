#!/usr/bin/env bash
# ERMFS (ermfs-tool demo: write+close, open+read, memory) against tmpfs (in the demo's own
# run) and ext4 on zram (lz4, the kernel's compressed RAM; cp + sync, cold tar read,
# mm_stat mem_used), same corpus, same run. Two corpora: a text tree (default
# /usr/include) and shared libraries (binaries). Results: docs/BENCHMARKS.md.
# Usage: scripts/bench/50-ermfs-vs-tmpfs.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/lib/zram.sh
tool=Tools/.build/release/ermfs-tool
[ -x "$tool" ] || swift build -c release --package-path Tools >/dev/null
work=$(mktemp -d /dev/shm/ermfs-bench-XXXXXX)
trap 'zram_stop; rm -rf "$work"' EXIT

# The binary corpus: regular *.so* files under 16 MiB, in name order, up to 128 MiB.
mkdir -p "$work/solibs"
total=0
while IFS= read -r f; do
  size=$(stat -c %s "$f"); [ "$size" -lt $((16 << 20)) ] || continue
  [ $((total + size)) -le $((128 << 20)) ] || break
  cp "$f" "$work/solibs/"; total=$((total + size))
done < <(find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' | sort)

# mb BYTES START END: MB/s between two `date +%s.%N` stamps.
mb() { awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.0f", b / (e - s) / 1e6 }'; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for corpus in "${1:-/usr/include}" "$work/solibs"; do
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
  echo; echo "=== corpus $corpus: $bytes bytes in $(find "$corpus" -type f | wc -l) files"
  for args in "" "--codec zlib --level 6" "--background"; do
    echo "--- ermfs-tool demo $args"
    # shellcheck disable=SC2086
    "$tool" demo $args --tmpfs "$work" "$corpus" 2>&1 | grep -E '^(ERMFS|tmpfs) '
  done
  if zram_available; then
    zram_start lz4 2G "$work/zram"
    sync; start=$(date +%s.%N)
    cp -r "$corpus" "$work/zram/c"; sync
    end=$(date +%s.%N)
    used=$(zram_mem_used)
    echo 3 > /proc/sys/vm/drop_caches
    rstart=$(date +%s.%N); tar -C "$work/zram" -cf - c | cat > /dev/null; rend=$(date +%s.%N)
    awk -v u="$used" -v b="$bytes" -v w="$(mb "$bytes" "$start" "$end")" -v r="$(mb "$bytes" "$rstart" "$rend")" \
      'BEGIN { printf "ext4 on zram (lz4)  mem_used %.1f MiB  ratio %.3f  cp+sync %s MB/s  cold tar read %s MB/s\n", u/1048576, u/b, w, r }'
    zram_stop
  else
    echo "ext4 on zram: skipped: $ZRAM_WHY"
  fi
done
