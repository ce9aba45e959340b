#!/usr/bin/env bash
# Installs the Debian packages ERMFS needs, only when missing. Idempotent and quiet
# when everything is present; fails with a clear message when not root.
set -euo pipefail

# One package per line, so each layer adds its own without touching the others.
PACKAGES=(
  libbpf-dev      # ArenaBPF: libbpf loader shim, <bpf/bpf_helpers.h> for bpf/*.bpf.c
  linux-libc-dev  # ArenaBPF: <linux/bpf.h> for bpf/*.bpf.c
  zlib1g-dev      # ErmCompress: gzip over zlib
  gzip            # interop tests: system gzip -d must read our blobs
  libisal-dev     # ErmCompress: ISA-L igzip backend (CErmISAL shim)
  libdeflate-dev  # ErmCompress: libdeflate backend (CErmLibdeflate shim)
  isal            # ErmCompress benchmark: igzip CLI as a baseline
  libdeflate-tools # ErmCompress benchmark: libdeflate-gzip CLI as a baseline
  pigz            # ErmCompress benchmark: pigz -p2 as the parallel gzip baseline
  liburing-dev    # ErmIOUring: io_uring over liburing (C shim)
  strace          # ErmIOUring benchmark: syscall counts per case (strace -c)
  time            # ErmAlloc benchmark: /usr/bin/time -v peak RSS, CPU time, page faults
  fuse3           # ErmFUSE: fusermount3 (unmount as non-root, lazy unmount of a dead daemon)
  libfuse3-dev    # ErmFUSE: libfuse3 low-level API (C shim)
  fio             # ErmFUSE tests and benchmark: verify=crc32c jobs on the mount
  attr            # ErmFUSE tests: setfattr/getfattr through the mount
  sqlite3         # ErmFUSE tests: a database living in the mount
  python3         # ErmFUSE tests: POSIX conformance script, mmap and sqlite checks
  e2fsprogs       # ErmFUSE benchmark: mkfs.ext4 on a zram device (the baseline)
  git             # ErmFUSE tests: init, commit and fsck inside the mount
  gcc             # ErmFUSE tests: compile and run a C program inside the mount
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
