#!/usr/bin/env bash
# The BPF arena commands: the probe reports, and a live run sees every file we create,
# exactly once, with nothing dropped.
set -euo pipefail
tool=$1
out=$("$tool" arena doctor)
echo "$out" | grep -q "file-creation producer will use" || { echo "$out"; exit 1; }
dir=$(mktemp -d); log=$(mktemp); trap 'rm -rf "$dir" "$log"' EXIT
"$tool" arena run --structure mpmc --seconds 8 -v > "$log" 2>&1 &
run=$!
# Loading and attaching can take seconds on a loaded machine; the run's clock starts after.
for _ in $(seq 1 600); do grep -q "^structure .*hook" "$log" && break; sleep 0.1; done
grep -q "^structure .*hook" "$log" || { echo "arena run never attached"; cat "$log"; exit 1; }
for i in $(seq 1 200); do : > "$dir/f$i"; done
wait $run || { echo "arena run failed"; cat "$log"; exit 1; }
seen=$(grep -cE " $dir/f[0-9]+$" "$log" || true)
unique=$(grep -oE " $dir/f[0-9]+$" "$log" | sort -u | wc -l)
[ "$seen" -eq 200 ] && [ "$unique" -eq 200 ] || { echo "saw $seen events ($unique distinct) for 200 creations"; grep -v " pid " "$log"; exit 1; }
grep -- "^-- received" "$log" | tail -n 1 | grep -q "dropped 0," || { echo "events were dropped"; grep -- "^--" "$log"; exit 1; }
grep -q "^verify: .*consistent" "$log" || { echo "no consistent verify line"; tail -n 3 "$log"; exit 1; }
out=$("$tool" arena run --seconds 1 -d 5 2>&1)
echo "$out" | grep -qi deprecated || { echo "-d is not reported as deprecated"; exit 1; }
echo "arena run saw 200/200 creations exactly once"
