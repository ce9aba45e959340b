#!/usr/bin/env bash
# Ctrl-C (SIGINT) during demo's tmpfs phase removes the tmpfs copy and exits 130.
# The signal is sent while the process is stopped (SIGSTOP) inside that phase, so the
# test never depends on timing; a run that ends before it is caught is tried again
# with a larger tree.
set -euo pipefail
# Job control: background jobs then keep SIGINT at its default (a script without it
# starts them with SIGINT ignored, as POSIX asks, and demo rightly leaves it ignored).
set -m
tool=$1
dir=$(mktemp -d)
shm=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d -p "$dir")
trap 'rm -rf "$dir" "$shm"' EXIT
fail() { echo "$*"; exit 1; }
mkdir "$dir/tree"
size=16
for attempt in 1 2 3 4 5 6; do
  rm -rf "$dir/tree"/*
  head -c "${size}M" /dev/zero | split -b 8k - "$dir/tree/part-"
  "$tool" demo --level 1 --tmpfs "$shm" "$dir/tree" > "$dir/log" 2>&1 & demo=$!
  caught=no
  while kill -0 "$demo" 2>/dev/null; do
    if compgen -G "$shm/ermfs-demo-*" > /dev/null; then
      kill -STOP "$demo"
      if compgen -G "$shm/ermfs-demo-*" > /dev/null; then caught=yes; kill -INT "$demo"; fi
      kill -CONT "$demo"
      break
    fi
    sleep 0.01
  done
  rc=0; wait "$demo" || rc=$?
  if [ "$caught" = yes ]; then
    if compgen -G "$shm/ermfs-demo-*" > /dev/null; then
      fail "interrupted demo left $(ls -d "$shm"/ermfs-demo-*) behind"
    fi
    [ "$rc" -eq 130 ] || { cat "$dir/log"; fail "interrupted demo exited $rc, want 130"; }
    echo "interrupted in the tmpfs phase (attempt $attempt, ${size} MiB): cleaned up, exit 130"
    exit 0
  fi
  [ "$rc" -eq 0 ] || { cat "$dir/log"; fail "demo failed (exit $rc)"; }
  size=$((size * 2))
done
fail "never caught demo inside its tmpfs phase"
