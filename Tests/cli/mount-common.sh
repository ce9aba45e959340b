# Sourced by the test-mount-*.sh scripts: mounting with a guarantee that no mount, daemon
# or temporary directory outlives the test, whatever fails.
#   needs_mount_support     skips (exit 0, saying why) without root or /dev/fuse
#   ermfs_mount DIR [ARG..] mounts ERMFS on DIR (remembered for the cleanup)
#   fail MESSAGE            prints and exits 1 (the EXIT trap still cleans up)
# Scripts set `tool` and call `setup_scratch` (creates $scratch, installs the trap).
MOUNTED=()

needs_mount_support() {
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: mount tests need root (make test runs as root)"; exit 0; fi
  if [ ! -c /dev/fuse ]; then echo "SKIP: /dev/fuse is missing (no FUSE in this kernel or container)"; exit 0; fi
  command -v fusermount3 >/dev/null || { echo "fusermount3 missing: run scripts/install-deps.sh"; exit 1; }
}

fail() { echo "FAIL: $*"; exit 1; }

ermfs_mount() {
  local dir=$1; shift
  MOUNTED+=("$dir")
  "$tool" mount "$dir" "$@" >/dev/null || fail "mount $dir $*"
}

is_mounted() { awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo; }

cleanup_mounts() {
  local m
  for m in "${MOUNTED[@]}"; do
    is_mounted "$m" || continue
    "$tool" unmount "$m" >/dev/null 2>&1 || fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    is_mounted "$m" && echo "WARNING: could not unmount $m"
  done
}

setup_scratch() {
  scratch=$(mktemp -d /tmp/ermfs-test-XXXXXX)
  chmod 755 "$scratch"
  trap 'cleanup_mounts; rm -rf "$scratch"' EXIT
}

# The daemon's pid, from the mount's statistics.
daemon_pid() { "$tool" stats --raw "$1" | awk '/^pid /{print $2}'; }

# One field of the mount's statistics.
stat_field() { "$tool" stats --raw "$1" | awk -v k="$2" '$1 == k {print $2}'; }
