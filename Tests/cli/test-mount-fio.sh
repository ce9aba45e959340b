#!/usr/bin/env bash
# fio with verify=crc32c on a mounted ERMFS: sequential and random writes by several jobs
# at once, every block read back and checked, then checked again after the files were
# closed (compressed) and the kernel's page cache dropped. Sizes stay small for CI; the
# big runs are scripts/bench/60-ermfuse.sh.
set -uo pipefail
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/mount-common.sh"
needs_mount_support
command -v fio >/dev/null || fail "fio missing: run scripts/install-deps.sh"
setup_scratch
m="$scratch/m"; mkdir "$m"
ermfs_mount "$m"

run_fio() { # NAME ARGS...
  local name=$1; shift
  fio --name="$name" --directory="$m" --ioengine=psync --numjobs=4 --group_reporting \
      --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 "$@" > "$scratch/$name.log" 2>&1 \
    || { tail -20 "$scratch/$name.log"; fail "fio $name"; }
  grep -q "verify: bad\|crc32c: verify failed\|fio: pid=.*err=" "$scratch/$name.log" && { cat "$scratch/$name.log"; fail "fio $name verify"; }
}

run_fio seq --rw=write --bs=1M --size=24M
run_fio rand --rw=randwrite --bs=4k --size=8M --verify_backlog=512
run_fio mixed --rw=randrw --bs=16k --size=8M --rwmixread=50
run_fio small --rw=write --bs=1000 --size=2M
# Read back what the jobs above left, after close (compression) and a dropped page cache.
for _ in $(seq 1 200); do [ "$(stat_field "$m" inodes_open_for_writing)" = 0 ] && break; sleep 0.05; done
echo 3 > /proc/sys/vm/drop_caches
for name in seq rand small; do
  case $name in seq) args="--rw=write --bs=1M --size=24M";; rand) args="--rw=randwrite --bs=4k --size=8M";; small) args="--rw=write --bs=1000 --size=2M";; esac
  fio --name=$name --directory="$m" --ioengine=psync --numjobs=4 --group_reporting --verify=crc32c \
      --verify_fatal=1 --verify_state_save=0 --verify_only $args > "$scratch/$name.reread.log" 2>&1 \
    || { tail -20 "$scratch/$name.reread.log"; fail "fio $name: re-verify after compression"; }
done
stored=$(stat_field "$m" stored_bytes); logical=$(stat_field "$m" logical_bytes)
[ "$logical" -gt 0 ] || fail "no data in the mount after fio"
cd / && "$tool" unmount "$m" >/dev/null || fail "unmount"
echo "fio verify=crc32c: sequential, random, mixed and odd-sized writes by 4 jobs read back intact, also after compression ($stored of $logical bytes stored)"
