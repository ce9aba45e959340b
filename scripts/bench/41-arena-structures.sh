#!/usr/bin/env bash
# Throughput of each arena structure in user space (shared mapping, capacity 1024),
# 1:1 and 2:2 producer:consumer threads, next to a Mutex-protected ring baseline in
# the same run. Results: docs/bench/arena.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS=${ITEMS:-2000000}
swift build -c release --package-path Packages/ArenaBPF --product arena-bench >/dev/null
echo "# $(nproc) cores; $ITEMS values per configuration"
Packages/ArenaBPF/.build/release/arena-bench structures --items "$ITEMS"
