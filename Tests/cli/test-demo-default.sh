#!/usr/bin/env bash
# The main job (`make run`): the embedded default tree imports and verifies on any machine.
set -euo pipefail
tool=$1
out=$("$tool" demo 2>/dev/null)
echo "$out" | tail -n 6
grep -Eq 'verified ([0-9]+)/\1 files byte for byte' <<< "$out"
