#!/usr/bin/env bash
# POSIX conformance: posix_conformance.py runs against a tmpfs directory and against an
# ERMFS mount in the same run, as root and as uid/gid 65534, and every line must agree.
# With the default options the two outputs must be identical. With the writeback cache
# (an option) the kernel keeps a file's mtime itself, so the checks listed in
# posix_known_differences.txt (with the reason) may differ, and no other.
set -uo pipefail
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/mount-common.sh"
needs_mount_support
setup_scratch
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
# The script runs as uid 65534 too: it and its interpreter must be reachable for them.
python=/usr/bin/python3
cp "$here/posix_conformance.py" "$scratch/" && chmod 644 "$scratch/posix_conformance.py"

run_suite() { # DIR OUTPUT
  "$python" "$scratch/posix_conformance.py" "$1" root > "$2" 2>&1 || fail "suite as root failed on $1: $(tail -3 "$2")"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$python" "$scratch/posix_conformance.py" "$1" nobody >> "$2" 2>&1 \
    || fail "suite as 65534 failed on $1: $(tail -3 "$2")"
}

compare() { # LABEL MOUNT-ARGS... ; uses $known (allowed differing check names)
  local label=$1; shift
  local t="$scratch/tmpfs-$label" m="$scratch/ermfs-$label"
  mkdir "$t" "$m"
  mount -t tmpfs -o mode=755 tmpfs "$t" && MOUNTED+=("$t") || fail "tmpfs"
  ermfs_mount "$m" -o allow_other "$@"
  chmod 755 "$m"
  run_suite "$t" "$scratch/$label.tmpfs.out"
  run_suite "$m" "$scratch/$label.ermfs.out"
  [ "$(wc -l < "$scratch/$label.ermfs.out")" -ge 100 ] || fail "too few checks ran: $(wc -l < "$scratch/$label.ermfs.out")"
  differing=$(diff "$scratch/$label.tmpfs.out" "$scratch/$label.ermfs.out" | grep '^[<>]' | sed 's/^[<>] //; s/:.*//' | sort -u)
  for name in $differing; do
    if ! grep -qx "$name" <<< "$known"; then
      diff "$scratch/$label.tmpfs.out" "$scratch/$label.ermfs.out"
      fail "$label: ERMFS and tmpfs disagree on $name"
    fi
  done
  umount "$t"; "$tool" unmount "$m" >/dev/null
  echo "$label: $(wc -l < "$scratch/$label.ermfs.out") checks agree with tmpfs${differing:+ (known: $(echo $differing))}"
}

known=""
compare default
known=$(grep -v '^#' "$here/posix_known_differences.txt" | awk '{print $1}')
compare writeback --writeback-cache
