#!/usr/bin/env bash
# ErmFD: memfd export. One large file (uncompressed and compressed) against memcpy of the
# same bytes into a mapped memfd and one write() into a memfd; exportMany (io_uring)
# against a loop of export() and a loop of memfd_create + write(); syscall counts with
# strace -c; peak RSS while exporting a 256 MiB compressed file. Same process, same bytes,
# medians; read the ratios (the machine has 2 cores, shared). Results: docs/bench/ermfd.md.
# Environment: RUNS (median of, default 3), LARGE_MIB (default 1024).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
LARGE_MIB=${LARGE_MIB:-1024}
PKG=Packages/ErmFD

swift build -c release --package-path "$PKG" --product ermfd-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermfd-bench"

echo "machine: $(nproc) cores, $(uname -r), vm.memfd_noexec=$(cat /proc/sys/vm/memfd_noexec 2>/dev/null || echo n/a)"
echo
"$BIN" large --mib "$LARGE_MIB" --runs "$RUNS"
echo
"$BIN" large --mib "$LARGE_MIB" --compressed --runs "$RUNS"
echo
"$BIN" many --count 10000 --bytes 4096 --runs "$RUNS"
echo
"$BIN" many --count 10000 --bytes 4096 --materialised --runs "$RUNS"
echo
"$BIN" many --count 1000 --bytes 65536 --runs "$RUNS"
echo
"$BIN" many --count 10 --bytes 67108864 --runs "$RUNS"
echo
"$BIN" rss --mib 256

if command -v strace >/dev/null; then
  echo
  echo "system calls, 10000 x 4 KiB, one run per variant (strace -c -f; the set-up, identical"
  echo "for all three, is included: compare the rows that differ)"
  for variant in exportMany exportLoop writeLoop; do
    out=$(mktemp)
    strace -c -f -o "$out" "$BIN" many --count 10000 --bytes 4096 --runs 1 --only "$variant" >/dev/null
    echo "--- $variant"
    grep -E " (memfd_create|write|pwrite64|io_uring_enter|io_uring_setup|ftruncate|mmap|munmap|fcntl|close|total)$" "$out" \
      | awk '{ printf "%s: %s calls, %s s\n", $NF, $4, $2 }'
    rm -f "$out"
  done
fi
