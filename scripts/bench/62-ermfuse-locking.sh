#!/usr/bin/env bash
# ErmCore's lock-free mode against its locked mode through the FUSE mount: the same
# lookup-heavy mix (stat + open + read 64 B + close of 16 files in 3 directories) from
# 1, 2, 4 and 8 processes, on a mount with the default (locked) core and one with
# --lockless, mounted side by side; tmpfs in the same run as the reference. Each point
# is the median of 3 rounds, the three systems alternating within a round.
# Usage: scripts/bench/62-ermfuse-locking.sh   Environment: BENCH_SECONDS (2)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tool=$repo/Tools/.build/release/ermfs-tool
[ -x "$tool" ] || swift build -c release --package-path Tools >/dev/null
[ "$(id -u)" = 0 ] || { echo "62-ermfuse-locking: needs root (mounts)"; exit 1; }
seconds=${BENCH_SECONDS:-2}
work=$(mktemp -d /tmp/ermfuse-locking-XXXXXX)
cleanup() {
  set +e
  for m in locked lockless; do mountpoint -q "$work/$m" && "$tool" unmount "$work/$m" >/dev/null; done
  mountpoint -q "$work/tmpfs" && umount "$work/tmpfs"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/locked" "$work/lockless" "$work/tmpfs"
"$tool" mount "$work/locked" >/dev/null
"$tool" mount "$work/lockless" --lockless >/dev/null
mount -t tmpfs tmpfs "$work/tmpfs"
echo "machine: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); ${seconds} s per point, median of 3"
median() { sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
printf "%-10s %14s %14s %14s %10s\n" processes "locked ops/s" "lock-free" "tmpfs" "ratio"
for p in 1 2 4 8; do
  declare -A runs=()
  for _ in 1 2 3; do
    for fs in locked lockless tmpfs; do
      runs[$fs]+="$(python3 "$repo/scripts/bench/lib/lookupmix.py" "$work/$fs" "$p" "$seconds" | awk '{print $2}') "
    done
  done
  locked=$(tr ' ' '\n' <<< "${runs[locked]}" | grep . | median)
  lockless=$(tr ' ' '\n' <<< "${runs[lockless]}" | grep . | median)
  tmpfs=$(tr ' ' '\n' <<< "${runs[tmpfs]}" | grep . | median)
  printf "%-10s %14s %14s %14s %9.2fx\n" "$p" "$locked" "$lockless" "$tmpfs" "$(awk -v a="$lockless" -v b="$locked" 'BEGIN{print a/b}')"
  unset runs
done
