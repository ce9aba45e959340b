#!/usr/bin/env bash
# ErmCore design choices on a real corpus, tmpfs baseline in the same run: write+close
# (compress on close), 4 KiB vs 128 KiB reads of compressed files (one-chunk cache per
# descriptor), 1 vs 2 threads on distinct files. Results: docs/bench/ermcore.md.
# Arguments: corpus directory (default /usr/include), MiB to load (default 64).
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=Packages/ErmCore
swift build -c release --package-path "$PKG" --product ermcore-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermcore-bench"
"$BIN" "${1:-/usr/include}" "${2:-64}"
