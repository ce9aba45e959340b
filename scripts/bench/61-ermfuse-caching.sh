#!/usr/bin/env bash
# The kernel caching and threading knobs of an ERMFS mount, each measured against the
# default mount on the same workloads, round-robin over several rounds (median shown),
# with tmpfs as the reference. Source of docs/decisions/fuse-caching.md and
# fuse-threading.md.
# Usage: scripts/bench/61-ermfuse-caching.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tool=$repo/Tools/.build/release/ermfs-tool
[ -x "$tool" ] || swift build -c release --package-path Tools >/dev/null
[ "$(id -u)" = 0 ] || { echo "61-ermfuse-caching: needs root"; exit 1; }
rounds=${1:-3}
mib=64
files=20000

variants=(
  "default|"
  "timeouts 0|--entry-timeout 0 --attr-timeout 0 --negative-timeout 0"
  "timeouts 1 s|--entry-timeout 1 --attr-timeout 1 --negative-timeout 1"
  "no negative cache|--negative-timeout 0"
  "writeback cache|--writeback-cache"
  "no keep_cache|--no-keep-cache"
  "keep pages after compress|--keep-cache-after-compress"
  "splice|--splice"
  "max_write 128 KiB|--max-write 131072"
  "max_background 64|--max-background 64"
  "readahead 128 KiB|--read-ahead-kib 128"
  "readdir names only|--readdir names"
  "readdirplus always|--readdir plus"
  "1 thread|--threads 1"
  "4 threads|--threads 4"
  "8 threads|--threads 8"
)

work=$(mktemp -d /tmp/ermfuse-caching-XXXXXX)
cleanup() {
  set +e
  mountpoint -q "$work/m" && "$tool" unmount "$work/m" >/dev/null
  mountpoint -q "$work/t" && umount "$work/t"
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/m" "$work/t"
mount -t tmpfs tmpfs "$work/t"
tar -C /usr/include -cf "$work/t/linux.tar" linux

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }
settle() {
  local before=-1 now
  for _ in $(seq 1 900); do
    now=$("$tool" stats --raw "$1" | awk '/^stored_bytes/{s=$2} /^inodes_open_for_writing/{w=$2} END{print (w == 0 ? s : -1)}')
    [ "$now" != -1 ] && [ "$now" = "$before" ] && return 0
    before=$now; sleep 0.2
  done
}
fio_run() { # FIELD ARGS
  local field=$1; shift
  fio --output-format=terse --terse-version=3 --ioengine=psync --group_reporting "$@" 2>/dev/null \
    | awk -F';' -v f="$field" '{ v = $f; if (f == 7 || f == 48) v = v * 1024 / 1e6; printf "%.0f\n", v }'
}
elapsed() { local s e; s=$(date +%s.%N); "$@" > /dev/null; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{print e-s}'; }

# One round of every workload on directory D; ERMFS when IS_ERMFS=1. Prints "metric value".
workloads() {
  local d=$1 is_ermfs=$2 f
  f="$d/seq.dat"
  echo "seqwrite $(fio_run 48 --name=w --filename="$f" --size=${mib}M --rw=write --bs=1M --refill_buffers --end_fsync=1)"
  echo "write4k $(fio_run 48 --name=w --filename="$d/small.dat" --size=16M --rw=write --bs=4k --refill_buffers --end_fsync=1)"
  [ "$is_ermfs" = 1 ] && settle "$d"
  drop_caches
  echo "seqread_cold $(fio_run 7 --name=r --filename="$f" --size=${mib}M --rw=read --bs=1M)"
  echo "seqread_warm $(fio_run 7 --name=r --filename="$f" --size=${mib}M --rw=read --bs=1M --invalidate=0)"
  rm -f "$f" "$d/small.dat"
  # A file held open since before it was written is never released: ERMFS keeps it plain,
  # so a miss is one FUSE round trip and a copy, no decompression.
  exec 9<>"$d/plain.dat"
  fio_run 48 --name=w --filename="$d/plain.dat" --size=${mib}M --rw=write --bs=1M --refill_buffers > /dev/null
  drop_caches
  echo "randread_open $(fio_run 8 --name=r --filename="$d/plain.dat" --size=${mib}M --rw=randread --bs=4k)"
  drop_caches
  echo "randread_open_4jobs $(fio_run 8 --name=r --filename="$d/plain.dat" --size=${mib}M --rw=randread --bs=4k --numjobs=4)"
  exec 9>&-
  rm -f "$d/plain.dat"
  while read -r op rate; do echo "$op $rate"; done < <(python3 "$repo/scripts/bench/lib/fsops.py" "$d" "$files")
  # Two metadata processes at once (threads vs contention).
  mkdir "$d/p1" "$d/p2"
  local t; t=$(elapsed bash -c "python3 '$repo/scripts/bench/lib/fsops.py' '$d/p1' $files & python3 '$repo/scripts/bench/lib/fsops.py' '$d/p2' $files & wait")
  echo "meta_2procs $(awk -v t="$t" -v n="$files" 'BEGIN{printf "%.0f", 2*4*n/t}')"
  rmdir "$d/p1" "$d/p2"
  t=$(elapsed bash -c "tar -C '$d' -xf '$work/t/linux.tar' && sync")
  echo "untar $(awk -v t="$t" 'BEGIN{printf "%.0f", 763/t}')"
  [ "$is_ermfs" = 1 ] && settle "$d"
  echo "pagecache_after_untar $(find "$d/linux" -type f -print0 | xargs -0 fincore -b -n -o RES | awk '{s+=$1} END{print s+0}')"
  drop_caches
  t=$(elapsed bash -c "ls -lR '$d/linux'")
  echo "ls_lR_cold $(awk -v t="$t" 'BEGIN{printf "%.0f", 792/t}')"
  t=$(elapsed bash -c "ls -lR '$d/linux'")
  echo "ls_lR_warm $(awk -v t="$t" 'BEGIN{printf "%.0f", 792/t}')"
  t=$(elapsed bash -c "cat \$(find '$d/linux' -type f) > /dev/null")
  echo "reread_tree $(awk -v t="$t" 'BEGIN{printf "%.0f", 763/t}')"
  t=$(elapsed rm -rf "$d/linux")
  echo "rm_rf $(awk -v t="$t" 'BEGIN{printf "%.0f", 792/t}')"
}

declare -A samples
echo "machine: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $rounds rounds"
for round in $(seq 1 "$rounds"); do
  while read -r metric value; do samples["tmpfs|$metric"]+="$value "; done < <(workloads "$work/t" 0)
  for v in "${variants[@]}"; do
    name=${v%%|*}; args=${v#*|}
    # shellcheck disable=SC2086
    "$tool" mount "$work/m" $args > /dev/null
    while read -r metric value; do samples["$name|$metric"]+="$value "; done < <(workloads "$work/m" 1)
    samples["$name|requests"]+="$("$tool" stats --raw "$work/m" | awk '/^requests\./{s+=$2} END{print s}') "
    "$tool" unmount "$work/m" > /dev/null
  done
  echo "round $round done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
metrics=(seqwrite write4k seqread_cold seqread_warm randread_open randread_open_4jobs create stat list unlink meta_2procs untar pagecache_after_untar ls_lR_cold ls_lR_warm reread_tree rm_rf requests)
echo
printf "| variant |"; for m in "${metrics[@]}"; do printf " %s |" "$m"; done; echo
printf "|---|"; for _ in "${metrics[@]}"; do printf -- "---|"; done; echo
for name in tmpfs "${variants[@]%%|*}"; do
  printf "| %s |" "$name"
  for m in "${metrics[@]}"; do printf " %s |" "$(echo "${samples[$name|$m]:-}" | median)"; done
  echo
done
echo
echo "units: seqwrite/write4k/seqread MB/s; randread IOPS; create/stat/list/unlink ops/s (python, 20k files);"
echo "meta_2procs: ops/s of two such processes at once; untar/reread_tree files/s (/usr/include/linux);"
echo "ls_lR/rm_rf entries/s; pagecache_after_untar bytes cached after the untar; requests: FUSE requests in the round"
