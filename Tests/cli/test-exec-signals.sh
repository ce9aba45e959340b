#!/usr/bin/env bash
# A signal sent to `ermfs-tool exec` reaches the program it runs (no orphan is left),
# and a program killed by signal N makes the tool exit 128+N.
set -euo pipefail
tool=$1
fail() { echo "$*"; exit 1; }
"$tool" exec /bin/sleep 1000 & runner=$!
child=""
for _ in $(seq 1 1200); do
  child=$(pgrep -P "$runner" || true)
  [ -n "$child" ] && break
  sleep 0.05
done
[ -n "$child" ] || { kill "$runner"; fail "exec never started its program"; }
trap 'kill -KILL "$child" 2>/dev/null || true' EXIT
kill -TERM "$runner"
rc=0; wait "$runner" || rc=$?
if kill -0 "$child" 2>/dev/null; then fail "the program outlived ermfs-tool exec (orphaned, still running)"; fi
[ "$rc" -eq 143 ] || fail "exec exited $rc after SIGTERM, want 143"
rc=0; "$tool" exec /bin/sh -c 'kill -USR1 $$' || rc=$?
[ "$rc" -eq $((128 + 10)) ] || fail "a program killed by SIGUSR1 made exec exit $rc, want 138"
echo "signals reach the program; 128+n on a signal death"
