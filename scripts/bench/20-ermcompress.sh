#!/usr/bin/env bash
# ErmCompress: every backend (zlib, ISA-L, libdeflate) at a spread of levels, single-
# threaded and on the WorkerPool, against the gzip/pigz/igzip/libdeflate command-line
# tools on the same corpora in the same run. Results: docs/bench/ermcompress.md.
# Corpora (generated into a temporary directory):
#   include.tar  a tar of /usr/include (text)
#   solibs.bin   the regular *.so* files under /usr/lib/x86_64-linux-gnu smaller than
#                16 MiB, in name order, concatenated and cut at 128 MiB (binaries)
# Environment: RUNS (median of, default 3), CHUNK_SIZE (bytes, default 131072),
# CONFIGS (default: zlib 1,6,9; isal 0-3; libdeflate 1,4,6,9,12), POOL_THREADS (default:
# the shared pool, one worker per core), EXTRA (more ermcompress-bench arguments).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
CHUNK_SIZE=${CHUNK_SIZE:-131072}
CONFIGS=${CONFIGS:-"zlib:1,6,9;isal:0,1,2,3;libdeflate:1,4,6,9,12"}
PKG=Packages/ErmCompress

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -cf "$work/include.tar" -C /usr include 2>/dev/null
# head stops reading at 128 MiB, so cat dies of SIGPIPE: expected, not a failure.
{ find /usr/lib/x86_64-linux-gnu -maxdepth 1 -name '*.so*' -type f -size -16M -print0 \
    | sort -z | xargs -0 cat 2>/dev/null || true; } | head -c $((128 << 20)) > "$work/solibs.bin"

swift build -c release --package-path "$PKG" --product ermcompress-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermcompress-bench"

args=(--runs "$RUNS" --chunk-size "$CHUNK_SIZE" --configs "$CONFIGS")
[ -n "${POOL_THREADS:-}" ] && args+=(--pool-threads "$POOL_THREADS")
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); gzip $(gzip --version | head -1 | awk '{print $2}')"
# shellcheck disable=SC2086
TMPDIR="$work" "$BIN" "$work/include.tar" "$work/solibs.bin" "${args[@]}" ${EXTRA:-}
echo "machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
