#!/usr/bin/env bash
# ErmIOUring: N buffers written into N fresh memfds (10k x 4 KiB, 1k x 64 KiB,
# 10 x 64 MiB) by ErmIOUring batches (liburing), by swift-system's IORing and by a loop
# of plain pwrite() (the baseline), interleaved in the same run; then the system calls
# each method makes per case, counted with strace -c; then where io_uring's writes ran
# (inside io_uring_enter, or on io-wq worker threads). Results: docs/bench/ermiouring.md.
# Environment: REPEAT (median of, default 5), DEPTH (ring depth, default 256).
set -euo pipefail
cd "$(dirname "$0")/../.."

REPEAT=${REPEAT:-5}
DEPTH=${DEPTH:-256}
PKG=Packages/ErmIOUring

swift build -c release --package-path "$PKG" --product ermiouring-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermiouring-bench"

echo "machine: $(nproc) cores, $(uname -r), liburing $(dpkg-query -W -f='${Version}' liburing-dev)"
"$BIN" --repeat "$REPEAT" --depth "$DEPTH"

# One run per case and method under strace: only the write path's system calls are
# counted (memfd creation, verification reads and close are the same for all methods).
# io-wq workers are kernel threads, invisible to strace: their work is not a system call.
echo
echo "system calls per run (strace -f -c, write path only):"
printf '| %-16s | %-8s | %10s | %15s |\n' case method pwrite64 io_uring_enter
printf '|%s|%s|%s|%s|\n' ------------------ ---------- ------------ -----------------
for c in small medium large; do
  for m in pwrite uring iorings; do
    log=$(mktemp)
    strace -f -c -e trace=pwrite64,io_uring_enter -o "$log" \
      "$BIN" --case "$c" --method "$m" --repeat 1 --depth "$DEPTH" >/dev/null
    count() { awk -v s="$1" '$NF == s {print $4}' "$log"; }
    pw=$(count pwrite64); en=$(count io_uring_enter)
    printf '| %-16s | %-8s | %10s | %15s |\n' "$c" "$m" "${pw:-0}" "${en:-0}"
    rm -f "$log"
  done
done

# Whether a write completes inside io_uring_enter (the submitting thread, no extra cost)
# or is handed to an io-wq kernel worker (a thread switch per write) varies from batch to
# batch: three tries.
echo
echo "where io_uring's writes ran (one batch of $DEPTH, three tries):"
echo "| writes of | into | completed inside io_uring_enter | finished later by io-wq workers |"
echo "|---|---|---|---|"
for i in 1 2 3; do "$BIN" --inline-probe --depth "$DEPTH" | tail -n +3; done
