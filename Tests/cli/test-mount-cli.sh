#!/usr/bin/env bash
# ermfs-tool mount/unmount/stats: the daemon comes up ready, stops cleanly on SIGTERM,
# SIGINT and unmount; a dead daemon's mount is cleared; every bad DIR gets a clear error;
# --serve-socket serves the mounted files as memfds from the same daemon.
set -uo pipefail
tool=$1
source "$(dirname "$0")/mount-common.sh"
needs_mount_support
setup_scratch

check_error() { # expected-message command...
  local expect=$1; shift
  out=$("$@" 2>&1); rc=$?
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "'$*' exited $rc (want a clean failure): $out"
  grep -qi -- "$expect" <<< "$out" || fail "'$*' did not say '$expect': $out"
}

m="$scratch/m"; mkdir "$m"

# Bad directories.
check_error "no such directory" "$tool" mount "$scratch/missing"
touch "$scratch/file"
check_error "not a directory" "$tool" mount "$scratch/file"
mkdir "$scratch/full"; touch "$scratch/full/x"
check_error "not empty" "$tool" mount "$scratch/full"
mkdir "$scratch/tmpfs"; mount -t tmpfs tmpfs "$scratch/tmpfs"; MOUNTED+=("$scratch/tmpfs")
check_error "already a mount point (tmpfs)" "$tool" mount "$scratch/tmpfs"
check_error "not ERMFS" "$tool" unmount "$scratch/tmpfs"
umount "$scratch/tmpfs"
check_error "not a mount point" "$tool" unmount "$m"
check_error "/dev/fuse is missing" unshare --mount bash -c "mount -t tmpfs none /dev && exec '$tool' mount '$m'"
# (A copy of the tool in the world-readable scratch directory: the build tree may be in a
# directory other users cannot enter, e.g. a clone made with mktemp -d.)
cp "$tool" "$scratch/ermfs-tool-copy"
check_error "needs fusermount3" setpriv --reuid=65534 --regid=65534 --clear-groups env PATH=/nonexistent "$scratch/ermfs-tool-copy" mount "$m"
check_error "level for isal must be 0...3" "$tool" mount --level 4 "$m"
check_error "codec must be" "$tool" mount --codec lz4 "$m"
check_error "unknown option" "$tool" mount "$m" -o no_such_option
is_mounted "$m" && fail "a failed mount left $m mounted"

# Daemon mode: returns ready, stats work, unmount ends the daemon.
ermfs_mount "$m"
is_mounted "$m" || fail "mount returned but $m is not mounted"
pid=$(daemon_pid "$m"); [ -n "$pid" ] || fail "no daemon pid in stats"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "daemon $pid is not a session leader (setsid)"
seq 1 50000 > "$m/numbers"
[ "$(stat_field "$m" files)" = 1 ] || fail "stats does not count the file"
"$tool" stats "$m" | grep -q "^ratio" || fail "stats table lacks the ratio"
check_error "already a mount point" "$tool" mount "$m"
"$tool" unmount "$m" >/dev/null || fail "unmount"
is_mounted "$m" && fail "still mounted after unmount"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; [ "$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)" = Z ] && break; sleep 0.1; done
[ -z "$(ls -A "$m")" ] || fail "the directory under the mount is not empty after unmount"

# SIGTERM and SIGINT unmount cleanly.
for sig in TERM INT; do
  ermfs_mount "$m"
  pid=$(daemon_pid "$m")
  kill -$sig "$pid"
  for _ in $(seq 1 100); do is_mounted "$m" || break; sleep 0.1; done
  is_mounted "$m" && fail "SIG$sig did not unmount"
  ls "$m" >/dev/null || fail "$m unusable after SIG$sig"
done

# A daemon killed hard leaves "Transport endpoint is not connected": unmount clears it.
ermfs_mount "$m"
pid=$(daemon_pid "$m")
kill -KILL "$pid"
for _ in $(seq 1 50); do ls "$m" >/dev/null 2>&1 || break; sleep 0.1; done
out=$(ls "$m" 2>&1)
grep -q "not connected" <<< "$out" || fail "expected a dead mount after SIGKILL, ls said: $out"
check_error "daemon is gone" "$tool" stats "$m"
check_error "dead FUSE mount" "$tool" mount "$m"
out=$("$tool" unmount "$m" 2>&1)
grep -q "daemon was gone" <<< "$out" || fail "unmount of a dead mount said: $out"
is_mounted "$m" && fail "dead mount still there"
ls "$m" >/dev/null || fail "$m unusable after clearing the dead mount"

# Foreground mode: prints ready, serves, SIGTERM ends it with status 0 and no mount.
"$tool" mount --foreground "$m" > "$scratch/fg.log" 2>&1 &
fg=$!
MOUNTED+=("$m")
for _ in $(seq 1 200); do grep -q '^ready$' "$scratch/fg.log" && break; sleep 0.05; done
grep -q '^ready$' "$scratch/fg.log" || fail "foreground mount never said ready: $(cat "$scratch/fg.log")"
echo hello > "$m/hello" && [ "$(cat "$m/hello")" = hello ] || fail "foreground mount does not serve"
kill -TERM $fg
wait $fg || fail "foreground daemon exited $? after SIGTERM"
is_mounted "$m" && fail "foreground mount left behind"

# One daemon, two doors: the mount and the memfd socket serve the same ERMFS.
ermfs_mount "$m" --serve-socket "$scratch/erm.sock"
[ "$(stat -c %a "$scratch/erm.sock")" = 600 ] || fail "socket mode is not 600"
mkdir "$m/sub"; head -c 300000 /dev/urandom > "$scratch/blob"; cp "$scratch/blob" "$m/sub/blob"
"$tool" get --socket "$scratch/erm.sock" /sub/blob | cmp - "$scratch/blob" || fail "served bytes differ"
out=$("$tool" get --socket "$scratch/erm.sock" /sub/missing 2>&1) && fail "get of a missing file succeeded"
grep -qi "no such file" <<< "$out" || fail "unclear error for a missing file: $out"
"$tool" unmount "$m" >/dev/null
[ -e "$scratch/erm.sock" ] && fail "socket file left behind after unmount"
echo "mount, stats, unmount, signals, dead mounts, errors and the memfd socket behave"
