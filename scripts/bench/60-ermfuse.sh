#!/usr/bin/env bash
# ERMFS mounted through FUSE against tmpfs and ext4 on a zram device (lz4), in the same
# run, on the same workloads:
#   - fio (psync) on one file per file system: sequential 1 MiB write (end_fsync) and read,
#     random 4 KiB read, cold (every page from the file system: page cache dropped first)
#     and warm (page cache filled by the pass before); incompressible data (refill_buffers),
#     plus a cold random read of compressible data (ERMFS decompresses a chunk per miss);
#   - metadata: create, stat, list and unlink of 100,000 empty files (python, one process);
#   - untar of /usr/include (from a tar in /dev/shm, then sync) and rm -rf of it;
#   - memory held after the untar: ERMFS daemon RSS and private memory (RssAnon) plus the
#     page cache of the mount's files (fincore); tmpfs pages (df); zram mm_stat mem_used.
# Usage: scripts/bench/60-ermfuse.sh [extra ermfs-tool mount options...]
# Environment: BENCH_FILE_MIB (256), BENCH_FILES (100000), BENCH_CORPUS (/usr/include).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
tool=$repo/Tools/.build/release/ermfs-tool
[ -x "$tool" ] || swift build -c release --package-path Tools >/dev/null
[ "$(id -u)" = 0 ] || { echo "60-ermfuse: needs root (mounts, zram, drop_caches)"; exit 1; }
command -v fio >/dev/null || { echo "60-ermfuse: fio missing (scripts/install-deps.sh)"; exit 1; }
size_mib=${BENCH_FILE_MIB:-256}
files=${BENCH_FILES:-100000}
corpus=${BENCH_CORPUS:-/usr/include}
mount_args=("$@")

work=$(mktemp -d /tmp/ermfuse-bench-XXXXXX)
zram=""
cleanup() {
  set +e
  mountpoint -q "$work/ermfs" && "$tool" unmount "$work/ermfs" >/dev/null
  mountpoint -q "$work/tmpfs" && umount "$work/tmpfs"
  mountpoint -q "$work/ext4" && umount "$work/ext4"
  if [ -n "$zram" ]; then
    echo 1 > "/sys/block/$zram/reset"
    echo "${zram#zram}" > /sys/class/zram-control/hot_remove 2>/dev/null
  fi
  rm -rf "$work" "/dev/shm/ermfuse-bench-corpus.tar"
}
trap cleanup EXIT

mkdir -p "$work/tmpfs" "$work/ext4" "$work/ermfs"
mount -t tmpfs -o size=4g tmpfs "$work/tmpfs"
"$tool" mount "$work/ermfs" "${mount_args[@]}" >/dev/null
systems=(tmpfs ermfs)

# ext4 on zram, the in-kernel compressed RAM a Linux user would pick instead.
if [ ! -d /sys/class/zram-control ]; then modprobe zram 2>/dev/null || true; fi
if [ -d /sys/class/zram-control ] && id=$(cat /sys/class/zram-control/hot_add 2>/dev/null); then
  zram=zram$id
  [ -e "/dev/$zram" ] || mknod "/dev/$zram" b "$(cut -d: -f1 "/sys/block/$zram/dev")" "$(cut -d: -f2 "/sys/block/$zram/dev")"
  echo lz4 > "/sys/block/$zram/comp_algorithm"
  echo 4G > "/sys/block/$zram/disksize"
  mkfs.ext4 -q -F "/dev/$zram"
  mount "/dev/$zram" "$work/ext4"
  systems=(tmpfs ext4 ermfs)
else
  echo "ext4-on-zram: SKIPPED (no /sys/class/zram-control: this kernel has no zram)"
fi

declare -A result
record() { result["$1,$2"]=$3; }   # metric system value

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# ERMFS compresses on the last release, after close() returned: wait until no file is
# open for writing and the stored bytes stopped moving.
ermfs_settle() {
  local before=-1 now
  for _ in $(seq 1 600); do
    now=$("$tool" stats --raw "$work/ermfs" | awk '/^stored_bytes/{s=$2} /^inodes_open_for_writing/{w=$2} END{print (w == 0 ? s : -1)}')
    [ "$now" != -1 ] && [ "$now" = "$before" ] && return 0
    before=$now; sleep 0.2
  done
}

fio_run() { # FIELD(7=read KiB/s 8=read IOPS 48=write KiB/s 49=write IOPS) ARGS...
  local field=$1; shift
  fio --output-format=terse --terse-version=3 --ioengine=psync --group_reporting "$@" 2>/dev/null \
    | awk -F';' -v f="$field" '{ v = $f; if (f == 7 || f == 48) v = v * 1024 / 1e6; printf "%.0f\n", v }'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ermfs mount options: ${mount_args[*]:-(defaults)}"

# MARK: untar, memory, rm -rf
tar -C "$(dirname "$corpus")" -cf /dev/shm/ermfuse-bench-corpus.tar "$(basename "$corpus")" 2>/dev/null
corpus_bytes=$(du -sb --apparent-size "$corpus" | cut -f1)
corpus_files=$(find "$corpus" -type f | wc -l)
echo "corpus: $corpus, $corpus_files files, $((corpus_bytes / 1048576)) MiB"
fresh_rss=$("$tool" stats --raw "$work/ermfs" | awk '/^daemon_rss_bytes/{print $2}')
fresh_anon=$("$tool" stats --raw "$work/ermfs" | awk '/^daemon_anon_bytes/{print $2}')
for fs in "${systems[@]}"; do
  d="$work/$fs"
  [ "$fs" = ext4 ] && base_zram=$(awk '{print $3}' "/sys/block/$zram/mm_stat")
  drop_caches
  start=$(date +%s.%N)
  tar -C "$d" -xf /dev/shm/ermfuse-bench-corpus.tar && sync
  end=$(date +%s.%N)
  record untar_mbs "$fs" "$(awk -v b="$corpus_bytes" -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", b/(e-s)/1e6}')"
  record untar_files "$fs" "$(awk -v n="$corpus_files" -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", n/(e-s)}')"
  case $fs in
    tmpfs) record memory "$fs" "$(df -B1 --output=used "$d" | tail -1)" ;;
    ext4)
      sleep 1
      record memory "$fs" "$(( $(awk '{print $3}' "/sys/block/$zram/mm_stat") - base_zram ))"
      record pagecache "$fs" "$(find "$d" -type f -print0 | xargs -0 fincore -b -n -o RES 2>/dev/null | awk '{s+=$1} END{print s+0}')" ;;
    ermfs)
      ermfs_settle
      stats=$("$tool" stats --raw "$d")
      rss=$(awk '/^daemon_rss_bytes/{print $2}' <<< "$stats"); anon=$(awk '/^daemon_anon_bytes/{print $2}' <<< "$stats")
      cache=$(find "$d" -type f -print0 | xargs -0 fincore -b -n -o RES 2>/dev/null | awk '{s+=$1} END{print s+0}')
      record pagecache "$fs" "$cache"
      record memory "$fs" "$((anon + cache))"
      record memory_rss "$fs" "$((rss + cache))"
      record memory_growth "$fs" "$((anon - fresh_anon + cache))"
      record stored "$fs" "$(awk '/^stored_bytes/{print $2}' <<< "$stats")" ;;
  esac
  start=$(date +%s.%N)
  rm -rf "${d:?}/$(basename "$corpus")" && sync
  end=$(date +%s.%N)
  record rm_files "$fs" "$(awk -v n="$corpus_files" -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", n/(e-s)}')"
done

# MARK: metadata
for fs in "${systems[@]}"; do
  while read -r op rate; do record "meta_$op" "$fs" "$rate"; done < <(python3 "$repo/scripts/bench/lib/fsops.py" "$work/$fs" "$files")
done

# MARK: fio
for fs in "${systems[@]}"; do
  f="$work/$fs/fio.dat"
  common=(--name=bench --filename="$f" --size="${size_mib}M" --refill_buffers)
  record seqwrite "$fs" "$(fio_run 48 "${common[@]}" --rw=write --bs=1M --end_fsync=1)"
  [ "$fs" = ermfs ] && ermfs_settle
  drop_caches
  record seqread_cold "$fs" "$(fio_run 7 "${common[@]}" --rw=read --bs=1M)"
  record seqread_warm "$fs" "$(fio_run 7 "${common[@]}" --rw=read --bs=1M --invalidate=0)"
  drop_caches
  record randread_cold "$fs" "$(fio_run 8 "${common[@]}" --rw=randread --bs=4k)"
  record randread_warm "$fs" "$(fio_run 8 "${common[@]}" --rw=randread --bs=4k --invalidate=0)"
  rm -f "$f"
  # A file held open by another process since before it was written is never released:
  # ERMFS keeps it plain (it compresses on the last close), so a miss is one FUSE round
  # trip and a copy, no decompression.
  # The file gets its full size first: fio lays out (unlinks and creates again) a file
  # shorter than --size, which would leave the holder on the old, empty inode.
  exec 9<>"$f"
  truncate -s "${size_mib}M" "$f"
  fio_run 48 "${common[@]}" --rw=write --bs=1M > /dev/null
  drop_caches
  record randread_cold_open "$fs" "$(fio_run 8 "${common[@]}" --rw=randread --bs=4k)"
  drop_caches
  record randread_cold_open_2jobs "$fs" "$(fio_run 8 "${common[@]}" --rw=randread --bs=4k --numjobs=2)"
  exec 9>&-
  rm -f "$f"
  # Compressible data (about 2:1): a cold random read costs ERMFS a chunk's decompression.
  g="$work/$fs/fio-compressible.dat"
  fio_run 48 --name=bench --filename="$g" --size=64M --rw=write --bs=1M --buffer_compress_percentage=50 \
    --buffer_compress_chunk=4k --refill_buffers --end_fsync=1 > /dev/null
  [ "$fs" = ermfs ] && ermfs_settle
  drop_caches
  record randread_cold_compressible "$fs" "$(fio_run 8 --name=bench --filename="$g" --size=64M --rw=randread --bs=4k)"
  rm -f "$g"
done

# MARK: report
value() { echo "${result[$1,$2]:-}"; }
ratio() { # metric system baseline
  local a b; a=$(value "$1" "$2"); b=$(value "$1" "$3")
  [ -n "$a" ] && [ -n "$b" ] && [ "$b" != 0 ] && awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2fx", a/b}' || echo "-"
}
mib() { [ -n "$1" ] && awk -v b="$1" 'BEGIN{printf "%.1f MiB", b/1048576}' || echo "-"; }
echo
echo "| workload | tmpfs | ext4 on zram (lz4) | ERMFS (FUSE) | ERMFS / tmpfs | ERMFS / ext4-zram |"
echo "|---|---|---|---|---|---|"
row() { # label metric unit
  printf "| %s | %s | %s | %s | %s | %s |\n" "$1" "$(value "$2" tmpfs) $3" "${result[$2,ext4]:+$(value "$2" ext4) $3}" \
    "$(value "$2" ermfs) $3" "$(ratio "$2" ermfs tmpfs)" "$(ratio "$2" ermfs ext4)"
}
row "fio seq write 1 MiB, ${size_mib} MiB (end_fsync)" seqwrite "MB/s"
row "fio seq read 1 MiB, cold" seqread_cold "MB/s"
row "fio seq read 1 MiB, warm (page cache)" seqread_warm "MB/s"
row "fio rand read 4 KiB, cold (one pass)" randread_cold "IOPS"
row "fio rand read 4 KiB, warm" randread_warm "IOPS"
row "fio rand read 4 KiB, cold, file held open (ERMFS: not compressed)" randread_cold_open "IOPS"
row "... the same, 2 jobs" randread_cold_open_2jobs "IOPS"
row "fio rand read 4 KiB, cold, compressible data" randread_cold_compressible "IOPS"
row "create $files empty files" meta_create "/s"
row "stat $files files" meta_stat "/s"
row "list a directory of $files" meta_list "entries/s"
row "unlink $files files" meta_unlink "/s"
row "untar $(basename "$corpus") + sync" untar_mbs "MB/s"
row "untar $(basename "$corpus") + sync" untar_files "files/s"
row "rm -rf $(basename "$corpus") + sync" rm_files "files/s"
echo
echo "memory held after the untar of $((corpus_bytes / 1048576)) MiB ($corpus_files files):"
echo "- tmpfs: $(mib "$(value memory tmpfs)") in pages (df)"
if [ -n "$(value memory ext4)" ]; then
  echo "- ext4 on zram: $(mib "$(value memory ext4)") zram mem_used (mm_stat), plus $(mib "$(value pagecache ext4)") of ext4 page cache (fincore, reclaimable)"
fi
echo "- ERMFS: $(mib "$(value memory ermfs)") = daemon private memory (RssAnon) + $(mib "$(value pagecache ermfs)") page cache (fincore);" \
     "$(mib "$(value memory_growth ermfs)") above the fresh daemon ($(mib "$fresh_anon") private, $(mib "$fresh_rss") RSS);" \
     "full RSS + page cache $(mib "$(value memory_rss ermfs)"); ERMFS stored bytes $(mib "$(value stored ermfs)")"
if [ -n "$(value memory ext4)" ]; then
  per_zram() { awk -v a="$1" -v b="$(value memory ext4)" 'BEGIN{printf "%.2fx", a/b}'; }
  echo "- ERMFS / ext4-zram: $(per_zram "$(value memory ermfs)") (private memory), $(per_zram "$(value memory_growth ermfs)") (growth over a fresh daemon), $(per_zram "$(value memory_rss ermfs)") (full RSS)"
fi
echo "- ERMFS / tmpfs: $(ratio memory ermfs tmpfs) (private memory)"
