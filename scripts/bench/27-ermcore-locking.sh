#!/usr/bin/env bash
# ErmCore's two locking modes side by side: lock-free backends against the locked ones,
# 1/2/4/8 threads, alternating runs (medians of 3): a lookup-heavy mix over plain and
# over compressed files, create/unlink churn, many threads reading one compressed file.
# Results: docs/bench/ermcore-lockless.md.
# Arguments: seconds per run (default 1), thread counts (default 1,2,4,8), sections.
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=Packages/ErmCore
swift build -c release --package-path "$PKG" --product ermcore-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermcore-bench"
"$BIN" locking "${1:-1}" "${2:-1,2,4,8}" ${3:+"$3"}
