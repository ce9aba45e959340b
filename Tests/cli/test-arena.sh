#!/usr/bin/env bash
# The BPF arena commands: the probe reports a hook that really delivered an event, a live
# run sees every file we create, exactly once, with nothing dropped and every pool node
# accounted for, and a feed filtered inside a new pid namespace (as in a container) sees
# exactly the processes it names.
set -euo pipefail
tool=$1
out=$("$tool" arena doctor)
grep -q "file-creation producer will use" <<< "$out" || { echo "$out"; exit 1; }
grep -qE "^hook .*: works \(loads, attaches, reported a canary file\)" <<< "$out" || { echo "$out"; exit 1; }
dir=$(mktemp -d); log=$(mktemp); nsdir=$(mktemp -d); nslog=$(mktemp)
trap 'rm -rf "$dir" "$log" "$nsdir" "$nslog"' EXIT
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
grep -q "^verify: .*consistent.*every pool node accounted for" "$log" || { echo "no consistent verify line"; tail -n 3 "$log"; exit 1; }
out=$("$tool" arena run --seconds 1 -d 5 2>&1)
grep -qi deprecated <<< "$out" || { echo "-d is not reported as deprecated"; exit 1; }

# Inside a new pid namespace the shell is pid 1; `watch --pid $$` there must report the
# shell's three files, not its child's (pid 2+ there), and not the host's.
unshare --pid --fork /bin/sh -c '
    "$1" watch --pid $$ "$2" > "$3" 2>&1 &
    watcher=$!
    for _ in $(seq 1 600); do grep -q "^watching" "$3" && break; sleep 0.1; done
    for i in 1 2 3; do : > "$2/ns$i"; done
    /bin/sh -c ": > \"\$1/child\"" child "$2"
    sleep 1
    kill $watcher; wait $watcher 2>/dev/null || true' sh "$tool" "$nsdir" "$nslog" &
namespaced=$!
for _ in $(seq 1 600); do grep -q "^watching" "$nslog" && break; sleep 0.1; done
: > "$nsdir/host"
wait $namespaced
grep -q "^watching" "$nslog" || { echo "watch never started in the pid namespace"; cat "$nslog"; exit 1; }
nsseen=$(grep -cE ": $nsdir/ns[123]$" "$nslog" || true)
[ "$nsseen" -eq 3 ] || { echo "saw $nsseen of the namespaced shell's 3 creations"; cat "$nslog"; exit 1; }
if grep -qE "$nsdir/(child|host)$" "$nslog"; then echo "the pid filter let other processes through"; cat "$nslog"; exit 1; fi
echo "arena run saw 200/200 creations exactly once; a pid-namespaced watch saw exactly its process's 3"
