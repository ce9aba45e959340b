#!/usr/bin/env bash
# BPF arena feed vs inotify vs a BPF ring buffer on the same tracepoint hook:
# file creation -> consumer latency (p50/p99), events/s, consumer system calls per event.
# Needs root (BPF). Each consumer runs in the same script run, on tmpfs and on the
# file system holding ${TMPDIR:-/var/tmp}. Results: docs/bench/arena.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
FILES=${FILES:-20000}
ROUNDS=${ROUNDS:-3}   # consumers interleaved per round: a busy machine hurts them alike
swift build -c release --package-path Packages/ArenaBPF --product arena-bench >/dev/null
BENCH=Packages/ArenaBPF/.build/release/arena-bench
echo "# $(nproc) cores; $FILES creations per run; latency = consumer holds event - open() returned"
for dir in /dev/shm "${TMPDIR:-/var/tmp}"; do
  for round in $(seq "$ROUNDS"); do
    for consumer in arena arena-doorbell inotify ringbuf ringbuf-spin; do
      "$BENCH" latency --consumer "$consumer" --files "$FILES" --dir "$dir"
    done
  done
done
