#!/usr/bin/env bash
# Real programs on a mounted ERMFS, through the kernel: tar + diff of a header tree, git,
# a C program compiled and run, sqlite, special files, links, owners, times, extended
# attributes, open files renamed and unlinked, concurrent appenders, compress-on-close
# round trips and mmap.
set -uo pipefail
tool=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/mount-common.sh"
needs_mount_support
setup_scratch
m="$scratch/m"; mkdir "$m"
ermfs_mount "$m"
cd "$m" || fail "cd"

# A tree in and out: extract a tar of /usr/include/linux, compare every byte and mode.
src=/usr/include/linux
tar -C "$(dirname $src)" -cf "$scratch/tree.tar" "$(basename $src)" || fail "tar c"
tar -xf "$scratch/tree.tar" || fail "tar x into the mount"
diff -r "$src" "$m/linux" || fail "extracted tree differs from $src"
[ "$(cd $src && find . -printf '%m %y %p\n' | sort | md5sum)" = "$(cd $m/linux && find . -printf '%m %y %p\n' | sort | md5sum)" ] \
  || fail "modes or types differ after extraction"
tar -C "$m" -cf - linux | tar -tf - | wc -l | grep -q "$(tar -tf "$scratch/tree.tar" | wc -l)" || fail "tar c from the mount"
rm -rf "$m/linux" && [ ! -e "$m/linux" ] || fail "rm -rf of the tree"

# git: init, commit, fsck, and a clone inside the mount.
git init -q repo && cd repo || fail "git init"
git config user.email test@example.com && git config user.name test
cp -r "$here" cli-copy && git add -A && git commit -qm "first" || fail "git commit"
echo change >> cli-copy/mount-common.sh && git commit -qam "second" || fail "second commit"
git fsck --full --strict 2>&1 | grep -v "^Checking" && fail "git fsck reported problems"
git gc -q || fail "git gc"
git fsck --full --strict >/dev/null 2>&1 || fail "git fsck after gc"
cd "$m" && git clone -q repo clone && [ "$(git -C clone log --oneline | wc -l)" = 2 ] || fail "git clone"

# A C program compiled, linked and run inside the mount.
cat > prog.c <<'C'
#include <stdio.h>
int main(int argc, char **argv) { long s = 0; for (int i = 0; i < 1000; i++) s += i; printf("%s %ld\n", argv[1], s); return 0; }
C
gcc -O2 -o prog prog.c || fail "gcc in the mount"
[ "$(./prog mounted)" = "mounted 499500" ] || fail "compiled program output"

# sqlite through python, a few thousand rows.
python3 "$here/mount_checks.py" sqlite "$m" 5000 || fail "sqlite"
sqlite3 "$m/db.sqlite" "pragma integrity_check" | grep -qx ok || fail "sqlite3 CLI integrity_check"

# Special files, links, owners, modes, times, extended attributes.
mkfifo fifo && [ -p fifo ] || fail "mkfifo"
(echo through-the-fifo > fifo &) ; [ "$(timeout 10 cat fifo)" = through-the-fifo ] || fail "fifo data"
echo data > f && ln f hard && ln -s f soft || fail "ln"
[ "$(stat -c %h f)" = 2 ] && [ "$(stat -c %i f)" = "$(stat -c %i hard)" ] || fail "hard link count or inode"
[ "$(readlink soft)" = f ] && [ "$(cat soft)" = data ] || fail "symbolic link"
chmod 2751 f && [ "$(stat -c %a f)" = 2751 ] || fail "chmod"
chown 1234:5678 f && [ "$(stat -c '%u:%g' hard)" = 1234:5678 ] || fail "chown"
touch -d '2001-02-03 04:05:06.123456789 UTC' f && [ "$(stat -c %Y.%y f)" = "981173106.2001-02-03 04:05:06.123456789 +0000" ] \
  || fail "touch -d: $(stat -c %Y.%y f)"
touch -h -d '1999-01-01 UTC' soft && [ "$(stat -c %Y soft)" = 915148800 ] || fail "touch -h on a link"
setfattr -n user.colour -v blue f && [ "$(getfattr --only-values -n user.colour f)" = blue ] || fail "setfattr/getfattr"
setfattr -x user.colour f && ! getfattr -n user.colour f 2>/dev/null || fail "setfattr -x"
setfattr -n trusted.secret -v root f && getfattr -n trusted.secret f >/dev/null || fail "trusted.* as root"

# Open files renamed and unlinked.
python3 "$here/mount_checks.py" open-files "$m" || fail "open files"

# Two processes appending to one file: every line whole, none lost.
: > log
for w in a b; do (for i in $(seq 1 2000); do echo "$w-$i-$(printf '%050d' $i)" >> log; done) & done
wait
[ "$(wc -l < log)" = 4000 ] || fail "appenders: $(wc -l < log) lines, want 4000"
[ "$(grep -cE '^[ab]-[0-9]+-[0-9]{50}$' log)" = 4000 ] || fail "appenders: torn lines"

# Written, closed (compressed), read back byte for byte.
for i in $(seq 1 3); do cat "$scratch/tree.tar"; done > "$scratch/big"
cp "$scratch/big" big && cmp big "$scratch/big" || fail "copy differs before compression"
for _ in $(seq 1 200); do
  [ "$(stat_field "$m" inodes_open_for_writing)" = 0 ] && [ "$(stat_field "$m" stored_bytes)" -lt "$(stat_field "$m" logical_bytes)" ] && break
  sleep 0.05
done
stored=$(stat_field "$m" stored_bytes); logical=$(stat_field "$m" logical_bytes)
[ "$stored" -lt "$((logical / 2))" ] || fail "not compressed after close: stored $stored of $logical"
cmp big "$scratch/big" || fail "compressed file reads back different"
echo 3 > /proc/sys/vm/drop_caches
cmp big "$scratch/big" || fail "compressed file reads back different after dropping the page cache"
dd if=big of="$scratch/piece" bs=4096 skip=777 count=13 status=none
dd if="$scratch/big" bs=4096 skip=777 count=13 status=none | cmp - "$scratch/piece" || fail "range read of a compressed file"

# mmap, shared and private.
python3 "$here/mount_checks.py" mmap "$m" || fail "mmap"

cd / && "$tool" unmount "$m" >/dev/null || fail "unmount"

# The other settings a mount takes: lock-free mode, background compression, another codec.
ermfs_mount "$m" --lockless --background --codec libdeflate --level 9
tar -C "$m" -xf "$scratch/tree.tar" || fail "tar x into the lock-free mount"
cp "$scratch/big" "$m/big" || fail "copy into the lock-free mount"
for _ in $(seq 1 200); do
  [ "$(stat_field "$m" stored_bytes)" -lt "$(( $(stat_field "$m" logical_bytes) / 2 ))" ] && break
  sleep 0.05
done
stored=$(stat_field "$m" stored_bytes); logical=$(stat_field "$m" logical_bytes)
[ "$stored" -lt "$((logical / 2))" ] || fail "background mode did not compress: stored $stored of $logical"
echo 3 > /proc/sys/vm/drop_caches
diff -r "$src" "$m/linux" || fail "tree differs in the lock-free, background-compressing mount"
cmp "$m/big" "$scratch/big" || fail "big file differs in the lock-free, background-compressing mount"
"$tool" unmount "$m" >/dev/null || fail "unmount of the lock-free mount"
echo "tar, git, gcc, sqlite, special files, links, xattrs, open files, appenders, compression and mmap work; also lock-free with background libdeflate compression"
