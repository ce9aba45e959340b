#!/usr/bin/env python3
"""POSIX behaviour checks that print one deterministic line each.

Run against an ERMFS mount and against a tmpfs directory in the same run: the outputs must
be identical (test-mount-posix.sh diffs them). Each line is "name: outcome", where an
outcome is a value or "error:ENAME"; nothing machine-specific (inode numbers, absolute
times) is printed, only relations between them.

  posix_conformance.py DIR root     # as root: everything, and prepares DIR/perm for ...
  posix_conformance.py DIR nobody   # ... the checks run as uid/gid 65534 (setpriv)
"""
import ctypes
import errno
import os
import stat
import sys
import time

ROOT, PART = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2


def outcome(fn):
    try:
        value = fn()
        return "ok" if value is None else repr(value)
    except OSError as e:
        return "error:" + errno.errorcode.get(e.errno, str(e.errno))


def check(name, fn):
    print(f"{name}: {outcome(fn)}", flush=True)


def p(*parts):
    return os.path.join(ROOT, *parts)


def write(path, data=b"", mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, data)
    os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def renameat2(old, new, flags):
    if libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def kind(path):
    m = os.lstat(path).st_mode
    for name, test in (("dir", stat.S_ISDIR), ("file", stat.S_ISREG), ("link", stat.S_ISLNK),
                       ("fifo", stat.S_ISFIFO), ("socket", stat.S_ISSOCK)):
        if test(m):
            return name
    return "other"


# MARK: open flags

def open_flags():
    d = p("open")
    os.mkdir(d)
    write(os.path.join(d, "f"), b"0123456789")
    f = os.path.join(d, "f")
    check("open.excl_existing", lambda: os.open(f, os.O_CREAT | os.O_EXCL | os.O_WRONLY) and None)
    check("open.missing", lambda: os.open(os.path.join(d, "nope"), os.O_RDONLY) and None)
    check("open.directory_on_file", lambda: os.open(f, os.O_RDONLY | os.O_DIRECTORY) and None)
    check("open.dir_for_writing", lambda: os.open(d, os.O_WRONLY) and None)
    check("open.creat_and_directory", lambda: os.open(os.path.join(d, "cd"), os.O_CREAT | os.O_DIRECTORY | os.O_RDONLY) and None)
    check("open.creat_and_directory_left_nothing", lambda: os.path.exists(os.path.join(d, "cd")))
    check("open.trailing_slash_on_file", lambda: os.open(f + "/", os.O_RDONLY) and None)
    check("open.component_not_dir", lambda: os.open(f + "/x", os.O_RDONLY) and None)
    os.symlink("f", os.path.join(d, "l"))
    check("open.nofollow_symlink", lambda: os.open(os.path.join(d, "l"), os.O_RDONLY | os.O_NOFOLLOW) and None)
    os.symlink("made-through-link", os.path.join(d, "dangling"))

    def create_through_dangling():
        os.close(os.open(os.path.join(d, "dangling"), os.O_WRONLY | os.O_CREAT, 0o600))
        return kind(os.path.join(d, "made-through-link"))
    check("open.creat_through_dangling_link", create_through_dangling)

    def trunc():
        os.close(os.open(f, os.O_WRONLY | os.O_TRUNC))
        return os.stat(f).st_size
    check("open.trunc", trunc)

    def append():
        write(f, b"abc")
        a = os.open(f, os.O_WRONLY | os.O_APPEND)
        b = os.open(f, os.O_WRONLY)
        os.write(b, b"XY")
        os.write(a, b"tail")
        os.lseek(a, 0, os.SEEK_SET)
        os.write(a, b"!")
        os.close(a)
        os.close(b)
        return read(f)
    check("open.append_always_at_end", append)

    def bad_access():
        r = os.open(f, os.O_RDONLY)
        w = os.open(f, os.O_WRONLY)
        try:
            results = []
            for fn in (lambda: os.write(r, b"x"), lambda: os.read(w, 1)):
                results.append(outcome(fn))
            return results
        finally:
            os.close(r)
            os.close(w)
    check("open.wrong_access_mode", bad_access)

    def pwrite_gap():
        g = os.path.join(d, "gap")
        fd = os.open(g, os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b"end", 10000)
        data = os.pread(fd, 20000, 0)
        os.close(fd)
        return (len(data), data[:10000].count(0), data[-3:])
    check("write.past_end_zero_fills", pwrite_gap)

    def ftruncate_grow_shrink():
        fd = os.open(f, os.O_RDWR)
        os.ftruncate(fd, 5)
        a = os.pread(fd, 100, 0)
        os.ftruncate(fd, 8)
        b = os.pread(fd, 100, 0)
        os.close(fd)
        return (a, b)
    check("truncate.shrink_then_grow", ftruncate_grow_shrink)

    def seek_data_hole():
        fd = os.open(f, os.O_RDONLY)
        size = os.fstat(fd).st_size
        r = (os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE) == size,
             outcome(lambda: os.lseek(fd, size, os.SEEK_DATA)))
        os.close(fd)
        return r
    check("lseek.data_hole_dense_file", seek_data_hole)


# MARK: rename

def renames():
    d = p("rename")
    os.mkdir(d)
    j = lambda *x: os.path.join(d, *x)
    write(j("a"), b"A")
    write(j("b"), b"B")
    check("rename.file_over_file", lambda: (os.rename(j("a"), j("b")), read(j("b")), os.path.exists(j("a")))[1:])
    os.mkdir(j("d1"))
    os.mkdir(j("d2"))
    check("rename.dir_over_empty_dir", lambda: (os.rename(j("d1"), j("d2")), os.path.isdir(j("d2")), os.path.exists(j("d1")))[1:])
    os.mkdir(j("full"))
    write(j("full", "x"))
    os.mkdir(j("d3"))
    check("rename.dir_over_nonempty_dir", lambda: os.rename(j("d3"), j("full")))
    check("rename.file_over_dir", lambda: os.rename(j("b"), j("full")))
    check("rename.dir_over_file", lambda: os.rename(j("d3"), j("b")))
    os.mkdir(j("d3", "sub"))
    check("rename.dir_into_itself", lambda: os.rename(j("d3"), j("d3", "sub", "inner")))
    check("rename.to_itself", lambda: (os.rename(j("b"), j("b")), read(j("b")))[1])
    check("rename.missing_source", lambda: os.rename(j("nope"), j("other")))
    check("rename.noreplace_existing", lambda: renameat2(j("b"), j("full"), RENAME_NOREPLACE))
    write(j("c"), b"C")
    check("rename.noreplace_free", lambda: (renameat2(j("c"), j("c2"), RENAME_NOREPLACE), read(j("c2")))[1])
    check("rename.exchange", lambda: (renameat2(j("b"), j("c2"), RENAME_EXCHANGE), read(j("b")), read(j("c2")))[1:])
    check("rename.exchange_missing", lambda: renameat2(j("b"), j("nope"), RENAME_EXCHANGE))
    check("rename.both_flags", lambda: renameat2(j("b"), j("c2"), RENAME_EXCHANGE | RENAME_NOREPLACE))
    os.link(j("b"), j("b-link"))
    check("rename.hard_link_onto_itself", lambda: (os.rename(j("b"), j("b-link")), os.path.exists(j("b")), os.stat(j("b-link")).st_nlink)[1:])
    check("rename.dot", lambda: os.rename(j("d3", "."), j("dot")))
    check("rename.dir_nlink_moves", lambda: (os.rename(j("d3"), j("full", "d3")), os.stat(j("full")).st_nlink, os.stat(d).st_nlink)[1:])

    def rename_open_file():
        write(j("open"), b"before")
        fd = os.open(j("open"), os.O_RDWR)
        os.rename(j("open"), j("moved"))
        os.write(fd, b"AFTER!")
        os.close(fd)
        return read(j("moved"))
    check("rename.open_file_keeps_writing", rename_open_file)


# MARK: unlink, rmdir, links

def links():
    d = p("links")
    os.mkdir(d)
    j = lambda *x: os.path.join(d, *x)

    def unlink_while_open():
        write(j("u"), b"data")
        fd = os.open(j("u"), os.O_RDWR)
        os.unlink(j("u"))
        os.pwrite(fd, b"more", 4)
        r = (os.pread(fd, 100, 0), os.fstat(fd).st_nlink, os.path.exists(j("u")), "u" in os.listdir(d))
        os.close(fd)
        return r
    check("unlink.while_open", unlink_while_open)

    def unlink_mapped_then_read():
        write(j("um"), b"x" * 8192)
        fd = os.open(j("um"), os.O_RDONLY)
        os.unlink(j("um"))
        data = os.pread(fd, 8192, 0)
        os.close(fd)
        return len(data)
    check("unlink.read_after_unlink", unlink_mapped_then_read)
    os.mkdir(j("dir"))
    write(j("dir", "x"))
    check("unlink.directory", lambda: os.unlink(j("dir")))
    check("rmdir.nonempty", lambda: os.rmdir(j("dir")))
    check("rmdir.file", lambda: os.rmdir(j("dir", "x")))
    check("rmdir.dot", lambda: os.rmdir(j("dir", ".")))
    check("unlink.missing", lambda: os.unlink(j("nope")))

    write(j("h"), b"shared")
    os.link(j("h"), j("h2"))

    def hard_link_facts():
        a, b = os.stat(j("h")), os.stat(j("h2"))
        write(j("h2"), b"changed")
        return (a.st_ino == b.st_ino, a.st_nlink, read(j("h")))
    check("link.same_inode_shared_data", hard_link_facts)
    check("link.existing_name", lambda: os.link(j("h"), j("h2")))
    check("link.directory", lambda: os.link(j("dir"), j("dir2")))
    check("link.missing", lambda: os.link(j("nope"), j("n2")))
    check("link.nlink_after_unlink", lambda: (os.unlink(j("h")), os.stat(j("h2")).st_nlink)[1])
    check("link.dir_nlink", lambda: (os.mkdir(j("dir", "sub")), os.stat(j("dir")).st_nlink)[1])

    # symbolic links
    os.symlink("h2", j("s"))
    os.symlink("nowhere", j("dangle"))
    os.symlink("loop2", j("loop1"))
    os.symlink("loop1", j("loop2"))
    os.symlink("dir", j("sdir"))
    check("symlink.readlink", lambda: os.readlink(j("s")))
    check("symlink.lstat_size", lambda: os.lstat(j("s")).st_size)
    check("symlink.follow", lambda: read(j("s")))
    check("symlink.dangling_stat", lambda: os.stat(j("dangle")) and None)
    check("symlink.dangling_lstat_kind", lambda: kind(j("dangle")))
    check("symlink.loop", lambda: os.stat(j("loop1")) and None)
    check("symlink.through_dir", lambda: os.path.exists(j("sdir", "x")))
    check("symlink.existing_name", lambda: os.symlink("x", j("s")))
    check("symlink.readlink_on_file", lambda: os.readlink(j("h2")))
    check("symlink.chmod_follows", lambda: (os.chmod(j("s"), 0o600), oct(os.stat(j("h2")).st_mode & 0o777), oct(os.lstat(j("s")).st_mode & 0o777))[1:])
    check("symlink.long_target", lambda: (os.symlink("a" * 4095, j("long")), len(os.readlink(j("long"))))[1])
    check("symlink.too_long_target", lambda: os.symlink("a" * 4096, j("toolong")))
    check("name.too_long", lambda: write(j("n" * 256)))
    check("name.max_length", lambda: (write(j("n" * 255)), os.path.exists(j("n" * 255)))[1])

    os.mkfifo(j("fifo"), 0o640)
    check("mkfifo.kind_mode", lambda: (kind(j("fifo")), oct(os.stat(j("fifo")).st_mode & 0o777)))
    check("mknod.char_device", lambda: (os.mknod(j("null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3)),
                                         os.major(os.stat(j("null")).st_rdev), os.minor(os.stat(j("null")).st_rdev))[1:])

    def listing():
        return sorted(os.listdir(d))
    check("readdir.names", listing)

    def listing_big():
        big = j("big")
        os.mkdir(big)
        for i in range(600):
            write(os.path.join(big, f"entry-{i:04d}-" + "x" * (i % 50)))
        names = os.listdir(big)
        for i in range(0, 600, 3):
            os.unlink(os.path.join(big, f"entry-{i:04d}-" + "x" * (i % 50)))
        return (len(names), len(set(names)), len(os.listdir(big)))
    check("readdir.large_directory", listing_big)


# MARK: metadata and times

def metadata():
    d = p("meta")
    os.mkdir(d)
    f = os.path.join(d, "f")
    write(f, b"hello", 0o640)
    check("chmod.bits", lambda: (os.chmod(f, 0o4751), oct(os.stat(f).st_mode & 0o7777))[1])
    check("chown.clears_setuid", lambda: (os.chown(f, 65534, 65534), os.stat(f).st_uid, os.stat(f).st_gid, oct(os.stat(f).st_mode & 0o7777))[1:])
    check("chown.unchanged_ids", lambda: (os.chown(f, -1, -1), os.stat(f).st_uid)[1])
    os.chown(f, 0, 0)

    def explicit_times():
        os.utime(f, ns=(1_000_000_123, 2_000_000_456))
        st = os.stat(f)
        return (st.st_atime_ns, st.st_mtime_ns)
    check("utimens.explicit", explicit_times)

    def far_future():
        os.utime(f, ns=(10_000_000_000 * 10**9, 10_000_000_000 * 10**9 + 7))
        st = os.stat(f)
        return (st.st_atime_ns, st.st_mtime_ns)
    check("utimens.far_future", far_future)

    def omit_now():
        os.utime(f, ns=(5 * 10**9, 6 * 10**9))
        # atime UTIME_NOW, mtime UTIME_OMIT through utimensat
        UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2

        class timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
        times = (timespec * 2)(timespec(0, UTIME_NOW), timespec(0, UTIME_OMIT))
        if libc.utimensat(AT_FDCWD, f.encode(), times, 0) != 0:
            raise OSError(ctypes.get_errno(), "utimensat")
        st = os.stat(f)
        return (st.st_atime_ns > 10**18, st.st_mtime_ns)
    check("utimens.now_and_omit", omit_now)

    def mtime_on_write():
        os.utime(f, ns=(5 * 10**9, 6 * 10**9))
        before = os.stat(f)
        with open(f, "ab") as h:
            h.write(b"more")
        after = os.stat(f)
        return (after.st_mtime_ns > before.st_mtime_ns, after.st_ctime_ns >= before.st_ctime_ns, after.st_size)
    check("times.write_moves_mtime", mtime_on_write)

    def ctime_on_chmod():
        before = os.stat(f).st_ctime_ns
        time.sleep(0.01)
        os.chmod(f, 0o600)
        return os.stat(f).st_ctime_ns > before
    check("times.chmod_moves_ctime", ctime_on_chmod)

    def dir_mtime_on_create():
        os.utime(d, ns=(5 * 10**9, 6 * 10**9))
        write(os.path.join(d, "new"))
        return os.stat(d).st_mtime_ns > 6 * 10**9
    check("times.create_moves_dir_mtime", dir_mtime_on_create)

    def truncate_same_size_moves_mtime():
        os.utime(f, ns=(5 * 10**9, 6 * 10**9))
        os.truncate(f, os.stat(f).st_size)
        return os.stat(f).st_mtime_ns > 6 * 10**9
    check("times.truncate_same_size_moves_mtime", truncate_same_size_moves_mtime)

    def xattrs():
        os.setxattr(f, "user.a", b"1")
        os.setxattr(f, "user.b", b"")
        r = [sorted(os.listxattr(f)), os.getxattr(f, "user.a"), os.getxattr(f, "user.b")]
        r.append(outcome(lambda: os.setxattr(f, "user.a", b"2", os.XATTR_CREATE)))
        r.append(outcome(lambda: os.setxattr(f, "user.c", b"2", os.XATTR_REPLACE)))
        r.append(outcome(lambda: os.getxattr(f, "user.missing")))
        r.append(outcome(lambda: os.removexattr(f, "user.b")))
        r.append(outcome(lambda: os.removexattr(f, "user.b")))
        r.append(outcome(lambda: os.setxattr(f, "user.big", b"x" * 65536)))
        r.append(outcome(lambda: os.setxattr(f, "user.toobig", b"x" * 65537)))
        r.append(outcome(lambda: os.setxattr(f, "trusted.t", b"root only")))
        r.append(outcome(lambda: os.getxattr(f, "trusted.t")))
        r.append(outcome(lambda: os.setxattr(f, "bogus.t", b"1")))
        return r
    check("xattr.rules", xattrs)

    def xattr_on_link():
        os.symlink("f", os.path.join(d, "sl"))
        return outcome(lambda: os.setxattr(os.path.join(d, "sl"), "user.x", b"1", follow_symlinks=False))
    check("xattr.user_on_symlink", xattr_on_link)

    def statfs_sane():
        s = os.statvfs(d)
        return (s.f_bsize > 0, s.f_namemax, s.f_blocks >= s.f_bfree)
    check("statfs.sane", statfs_sane)

    def fallocate_modes():
        g = os.path.join(d, "falloc")
        fd = os.open(g, os.O_RDWR | os.O_CREAT, 0o644)
        os.posix_fallocate(fd, 0, 10000)
        size = os.fstat(fd).st_size
        os.write(fd, b"y" * 10000)
        FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
        libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, ctypes.c_long(4096), ctypes.c_long(4096))
        data = os.pread(fd, 10000, 0)
        os.close(fd)
        return (size, data[4096:8192].count(0), data[:4096].count(b"y"[0]), len(data))
    check("fallocate.default_and_punch", fallocate_modes)

    def copy_range():
        src = os.path.join(d, "src")
        write(src, bytes(range(256)) * 100)
        dst = os.path.join(d, "dst")
        a = os.open(src, os.O_RDONLY)
        b = os.open(dst, os.O_WRONLY | os.O_CREAT, 0o644)
        n = os.copy_file_range(a, b, 10000, 100, 5)
        os.close(a)
        os.close(b)
        data = read(dst)
        return (n, len(data), data[:5], data[5:] == (bytes(range(256)) * 100)[100:10100])
    check("copy_file_range", copy_range)


# MARK: as uid/gid 65534 (the root part prepares perm/)

def prepare_permissions():
    d = p("perm")
    os.mkdir(d, 0o755)
    os.chmod(d, 0o755)
    write(os.path.join(d, "root-private"), b"secret", 0o600)
    write(os.path.join(d, "root-readable"), b"public", 0o644)
    os.chmod(os.path.join(d, "root-readable"), 0o644)
    os.mkdir(os.path.join(d, "sticky"), 0o1777)
    os.chmod(os.path.join(d, "sticky"), 0o1777)
    write(os.path.join(d, "sticky", "root-file"), b"r", 0o666)
    os.chmod(os.path.join(d, "sticky", "root-file"), 0o666)
    os.mkdir(os.path.join(d, "mine"), 0o755)
    os.chown(os.path.join(d, "mine"), 65534, 65534)
    write(os.path.join(d, "world-writable"), b"w", 0o666)
    os.chmod(os.path.join(d, "world-writable"), 0o666)
    write(os.path.join(d, "setuid-shared"), b"s", 0o6777)
    os.chmod(os.path.join(d, "setuid-shared"), 0o6777)
    os.mkdir(os.path.join(d, "noexec"), 0o744)
    os.chmod(os.path.join(d, "noexec"), 0o744)
    write(os.path.join(d, "noexec", "inside"), b"i", 0o644)
    print("perm.prepared: ok")


def as_nobody():
    d = p("perm")
    j = lambda *x: os.path.join(d, *x)
    check("nobody.ids", lambda: (os.getuid(), os.getgid()))
    check("nobody.create_in_root_dir", lambda: write(j("new")))
    check("nobody.read_private", lambda: read(j("root-private")))
    check("nobody.read_readable", lambda: read(j("root-readable")))
    check("nobody.write_readable", lambda: write(j("root-readable"), b"x"))
    check("nobody.unlink_in_root_dir", lambda: os.unlink(j("root-readable")))
    check("nobody.chmod_others_file", lambda: os.chmod(j("root-readable"), 0o777))
    check("nobody.chown_others_file", lambda: os.chown(j("root-readable"), 65534, 65534))
    check("nobody.sticky_unlink_others", lambda: os.unlink(j("sticky", "root-file")))
    check("nobody.sticky_rename_others", lambda: os.rename(j("sticky", "root-file"), j("sticky", "taken")))
    check("nobody.sticky_own_file", lambda: (write(j("sticky", "mine")), os.unlink(j("sticky", "mine")))[1])
    check("nobody.own_dir_create", lambda: (write(j("mine", "f"), b"mine", 0o640), os.stat(j("mine", "f")).st_uid,
                                             os.stat(j("mine", "f")).st_gid, oct(os.stat(j("mine", "f")).st_mode & 0o777))[1:])
    check("nobody.own_file_0444_write", lambda: (os.chmod(j("mine", "f"), 0o444), write(j("mine", "f"), b"x"))[1])
    check("nobody.own_chmod", lambda: (os.chmod(j("mine", "f"), 0o600), oct(os.stat(j("mine", "f")).st_mode & 0o777))[1])
    check("nobody.own_chown_to_root", lambda: os.chown(j("mine", "f"), 0, 0))
    check("nobody.utime_now_on_writable", lambda: os.utime(j("world-writable")))
    check("nobody.utime_explicit_on_others", lambda: os.utime(j("world-writable"), ns=(1, 1)))
    check("nobody.search_without_x", lambda: os.stat(j("noexec", "inside")) and None)
    check("nobody.list_without_x", lambda: sorted(os.listdir(j("noexec"))))

    def write_clears_setuid():
        fd = os.open(j("setuid-shared"), os.O_WRONLY)
        os.write(fd, b"x")
        os.close(fd)
        return oct(os.stat(j("setuid-shared")).st_mode & 0o7777)
    check("nobody.write_clears_setuid", write_clears_setuid)
    check("nobody.access", lambda: (os.access(j("root-private"), os.R_OK), os.access(j("root-readable"), os.R_OK),
                                    os.access(j("root-readable"), os.W_OK), os.access(j("world-writable"), os.W_OK)))
    check("nobody.trusted_xattr", lambda: os.setxattr(j("mine"), "trusted.x", b"1"))
    check("nobody.user_xattr_others", lambda: os.setxattr(j("root-readable"), "user.x", b"1"))


if PART == "root":
    open_flags()
    renames()
    links()
    metadata()
    prepare_permissions()
elif PART == "nobody":
    as_nobody()
else:
    sys.exit("usage: posix_conformance.py DIR root|nobody")
