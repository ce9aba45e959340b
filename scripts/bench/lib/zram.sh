# ext4 on a zram device: the kernel's compressed RAM, the baseline ERMFS must beat on
# memory and speed. Sourced by benchmark scripts:
#   zram_available || echo "skipped: $ZRAM_WHY"
#   zram_start lz4 1G /mnt/point ; ... ; zram_mem_used ; zram_stop
# A new device from hot_add each time (another benchmark may hold zram0); zram_stop
# unmounts, resets and removes it, and is safe to call twice (use it in a trap).

ZRAM_ID=""
ZRAM_MNT=""
ZRAM_WHY=""

zram_available() {
  if [ ! -e /sys/class/zram-control/hot_add ]; then ZRAM_WHY="no /sys/class/zram-control (zram not built or not loaded)"; return 1; fi
  if [ "$(id -u)" -ne 0 ]; then ZRAM_WHY="needs root (zram device, mkfs, mount)"; return 1; fi
  if ! command -v mkfs.ext4 >/dev/null; then ZRAM_WHY="no mkfs.ext4 (e2fsprogs)"; return 1; fi
  return 0
}

# zram_start ALGORITHM DISKSIZE MOUNTPOINT
zram_start() {
  ZRAM_ID=$(cat /sys/class/zram-control/hot_add)
  echo "$1" > "/sys/block/zram$ZRAM_ID/comp_algorithm"
  echo "$2" > "/sys/block/zram$ZRAM_ID/disksize"
  mkfs.ext4 -q -F "/dev/zram$ZRAM_ID"
  ZRAM_MNT=$3
  mkdir -p "$ZRAM_MNT"
  mount "/dev/zram$ZRAM_ID" "$ZRAM_MNT"
}

# Bytes of RAM the device holds now (mm_stat mem_used_total, third field).
zram_mem_used() { awk '{print $3}' "/sys/block/zram$ZRAM_ID/mm_stat"; }

zram_stop() {
  [ -n "$ZRAM_ID" ] || return 0
  if [ -n "$ZRAM_MNT" ] && mountpoint -q "$ZRAM_MNT"; then umount "$ZRAM_MNT" || umount -l "$ZRAM_MNT"; fi
  echo 1 > "/sys/block/zram$ZRAM_ID/reset" 2>/dev/null || true
  echo "$ZRAM_ID" > /sys/class/zram-control/hot_remove 2>/dev/null || true
  ZRAM_ID=""
}
