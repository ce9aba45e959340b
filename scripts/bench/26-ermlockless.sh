#!/usr/bin/env bash
# ErmLockless: LockFreeHashMap and SlotTable against a Mutex<Dictionary> / Mutex<[slot]>
# baseline in the same run, 1/2/4/8 threads, a lookup-heavy mix and an insert/remove
# churn. Results: docs/bench/ermlockless.md.
# Arguments: seconds per point (default 1), thread counts (default 1,2,4,8).
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=Packages/ErmLockless
swift build -c release --package-path "$PKG" --product ermlockless-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermlockless-bench"
"$BIN" "${1:-1}" "${2:-1,2,4,8}"
