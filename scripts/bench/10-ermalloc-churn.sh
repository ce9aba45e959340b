#!/usr/bin/env bash
# ErmAlloc churn: create/grow/shrink/delete 100k buffers of random sizes 0–1 MiB with
# ~2000 alive at a time; peak RSS ÷ peak live bytes for ErmAlloc (plain resize, and
# resize(to:populating:) which prefaults appended pages), a growing Swift Array per file
# and glibc malloc/realloc. One process per backend (RSS never mixes), same seed
# (identical operations; the checksums must match). Results: docs/bench/ermalloc.md.
# Environment: BUFFERS, LIVE, SEED override the workload.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUFFERS=${BUFFERS:-100000}
LIVE=${LIVE:-2000}
SEED=${SEED:-1}
PKG=Packages/ErmAlloc

swift build -c release --package-path "$PKG" --product ermalloc-churn >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermalloc-churn"

echo "machine: $(nproc) cores, $(uname -r); workload: $BUFFERS buffers, $LIVE live, seed $SEED"
# rss/live: the program's getrusage peak RSS ÷ its peak live bytes; maxrss/live: the same
# from /usr/bin/time; cpu_s: user + system seconds (wall time is noisy on a shared
# 2-core machine); minor_faults: pages the kernel had to fault in (and zero).
printf '%-12s %14s %14s %9s %11s %8s %8s %13s\n' backend peak_live_MiB peak_rss_MiB rss/live maxrss/live wall_s cpu_s minor_faults
checksums=()
for backend in erm erm-populate array malloc; do
  log=$(mktemp)
  # /usr/bin/time -v gives the kernel's own view of peak RSS, next to the program's.
  line=$(/usr/bin/time -v -o "$log" "$BIN" "$backend" --buffers "$BUFFERS" --live "$LIVE" --seed "$SEED")
  stat() { awk -F': ' -v k="$1" '$1 ~ k {print $2}' "$log"; }
  maxrss_kib=$(stat 'Maximum resident set size')
  cpu=$(awk -v u="$(stat 'User time')" -v s="$(stat 'System time')" 'BEGIN { printf "%.1f", u + s }')
  faults=$(stat 'Minor .reclaiming a frame. page faults')
  rm -f "$log"
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  live=$(field peak_live_bytes)
  checksums+=("$(field checksum)")
  awk -v b="$backend" -v live="$live" -v rss="$(field peak_rss_bytes)" -v ratio="$(field rss_per_live)" \
      -v maxrss="$maxrss_kib" -v secs="$(field seconds)" -v cpu="$cpu" -v faults="$faults" \
      'BEGIN { printf "%-12s %14.1f %14.1f %9s %11.3f %8.1f %8s %13s\n", b, live/1048576, rss/1048576, ratio, maxrss*1024/live, secs, cpu, faults }'
  [[ "$backend" == erm* ]] && echo "         ($(sed -n 's/.*mapping_calls="\([^"]*\)".*/\1/p' <<<"$line"))"
done
if [ "$(printf '%s\n' "${checksums[@]}" | sort -u | wc -l)" -ne 1 ]; then
  echo "ermalloc-churn: backends disagree on the final contents: ${checksums[*]}" >&2
  exit 1
fi
