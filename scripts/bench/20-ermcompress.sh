#!/usr/bin/env bash
# ErmCompress: ChunkedGzip (zlib backend, 128 KiB chunks) at levels 6 and 1 against the
# system gzip tool (gzip -6 / -1 / -d) on the same corpus in the same run: a tar of
# /usr/include, generated into a temporary directory. Results: docs/bench/ermcompress.md.
# Environment: RUNS (median of, default 3), CHUNK_SIZE (bytes, default 131072).
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
CHUNK_SIZE=${CHUNK_SIZE:-131072}
PKG=Packages/ErmCompress

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -cf "$work/corpus.tar" -C /usr include 2>/dev/null

swift build -c release --package-path "$PKG" --product ermcompress-bench >/dev/null
BIN="$(swift build -c release --package-path "$PKG" --show-bin-path)/ermcompress-bench"

echo "machine: $(nproc) cores, $(uname -r); gzip $(gzip --version | head -1 | awk '{print $2}')"
TMPDIR="$work" "$BIN" "$work/corpus.tar" --runs "$RUNS" --chunk-size "$CHUNK_SIZE"
