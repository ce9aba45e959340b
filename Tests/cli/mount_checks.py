#!/usr/bin/env python3
"""Checks on a mounted ERMFS that need a program rather than a shell line.

  mount_checks.py mmap DIR            MAP_SHARED writes reach the file, MAP_PRIVATE ones do not
  mount_checks.py open-files DIR      rename and unlink of files that are open (and mapped)
  mount_checks.py sqlite DIR ROWS     a database with ROWS rows, reopened and checked
"""
import mmap
import os
import sqlite3
import sys


def expect(condition, message):
    if not condition:
        sys.exit("FAIL: " + message)


def check_mmap(d):
    path = os.path.join(d, "mapped")
    size = 3 * 4096 + 100
    with open(path, "wb") as f:
        f.write(b"\0" * size)
    fd = os.open(path, os.O_RDWR)
    shared = mmap.mmap(fd, size, mmap.MAP_SHARED)
    for page in range(4):
        shared[page * 4096:page * 4096 + 6] = b"page%02d" % page
    shared[-4:] = b"TAIL"
    shared.close()
    os.close(fd)
    data = open(path, "rb").read()
    expect(len(data) == size, "size changed to %d" % len(data))
    for page in range(4):
        expect(data[page * 4096:page * 4096 + 6] == b"page%02d" % page, "MAP_SHARED write to page %d lost" % page)
    expect(data[-4:] == b"TAIL", "MAP_SHARED write at the end lost")

    # A shared mapping written while the file is also written through write(2).
    fd = os.open(path, os.O_RDWR)
    shared = mmap.mmap(fd, size, mmap.MAP_SHARED)
    os.pwrite(fd, b"via-write", 100)
    expect(shared[100:109] == b"via-write", "write(2) not visible in a shared mapping")
    shared[200:209] = b"via-mmap!"
    shared.flush()
    expect(os.pread(fd, 9, 200) == b"via-mmap!", "msync'ed mapping not visible to read(2)")
    shared.close()
    os.close(fd)

    fd = os.open(path, os.O_RDWR)
    private = mmap.mmap(fd, size, mmap.MAP_PRIVATE)
    private[0:6] = b"PRIVAT"
    expect(private[0:6] == b"PRIVAT", "MAP_PRIVATE write not visible in its own mapping")
    private.close()
    os.close(fd)
    expect(open(path, "rb").read()[0:6] == b"page00", "MAP_PRIVATE write reached the file")

    # A file created, extended with ftruncate and filled only through a mapping.
    grown = os.path.join(d, "grown")
    fd = os.open(grown, os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, 1 << 20)
    m = mmap.mmap(fd, 1 << 20, mmap.MAP_SHARED)
    for i in range(0, 1 << 20, 4096):
        m[i:i + 8] = i.to_bytes(8, "little")
    m.close()
    os.close(fd)
    data = open(grown, "rb").read()
    expect(all(data[i:i + 8] == i.to_bytes(8, "little") for i in range(0, 1 << 20, 4096)),
           "pages written through a fresh mapping lost")
    print("mmap: shared writes reach the file, private ones do not")


def check_open_files(d):
    a = os.path.join(d, "open-a")
    with open(a, "wb") as f:
        f.write(b"A" * 10000)
    fd = os.open(a, os.O_RDWR)
    os.rename(a, os.path.join(d, "open-b"))
    os.pwrite(fd, b"after-rename", 0)
    os.unlink(os.path.join(d, "open-b"))
    os.pwrite(fd, b"after-unlink", 20000)
    expect(os.fstat(fd).st_nlink == 0, "nlink of an unlinked open file is not 0")
    expect(os.pread(fd, 12, 0) == b"after-rename", "data written after rename lost")
    expect(os.pread(fd, 12, 20000) == b"after-unlink", "data written after unlink lost")
    expect(os.fstat(fd).st_size == 20012, "size of the unlinked file wrong")
    m = mmap.mmap(fd, 20012, mmap.MAP_SHARED)
    expect(m[20000:20012] == b"after-unlink", "mapping an unlinked file")
    m.close()
    os.close(fd)
    expect(not os.path.exists(os.path.join(d, "open-b")), "unlinked name still there")

    # A file replaced by rename while a reader holds the old one.
    old = os.path.join(d, "config")
    with open(old, "wb") as f:
        f.write(b"old contents")
    reader = os.open(old, os.O_RDONLY)
    with open(os.path.join(d, "config.new"), "wb") as f:
        f.write(b"new contents")
    os.rename(os.path.join(d, "config.new"), old)
    expect(os.pread(reader, 100, 0) == b"old contents", "the replaced file's reader lost its data")
    expect(open(old, "rb").read() == b"new contents", "the new file is not under the name")
    os.close(reader)
    print("open files: rename and unlink keep the data reachable through the descriptor")


def check_sqlite(d, rows):
    path = os.path.join(d, "db.sqlite")
    db = sqlite3.connect(path)
    db.execute("pragma journal_mode=wal")
    db.execute("create table t (id integer primary key, name text, value real)")
    with db:
        db.executemany("insert into t (name, value) values (?, ?)",
                       ((f"row {i}", i * 0.5) for i in range(rows)))
    with db:
        db.execute("update t set value = value * 2 where id % 3 = 0")
        db.execute("delete from t where id % 7 = 0")
    db.execute("create index t_name on t(name)")
    db.close()
    db = sqlite3.connect(path)
    expect(db.execute("pragma integrity_check").fetchone()[0] == "ok", "integrity_check failed")
    count, = db.execute("select count(*) from t").fetchone()
    expect(count == rows - rows // 7, "row count %d" % count)
    total, = db.execute("select sum(value) from t").fetchone()
    expected = sum((i * 0.5) * (2 if (i + 1) % 3 == 0 else 1) for i in range(rows) if (i + 1) % 7 != 0)
    expect(abs(total - expected) < 1e-6, "sum %r != %r" % (total, expected))
    db.close()
    print(f"sqlite: {count} rows consistent after reopening")


if __name__ == "__main__":
    what, d = sys.argv[1], sys.argv[2]
    if what == "mmap":
        check_mmap(d)
    elif what == "open-files":
        check_open_files(d)
    elif what == "sqlite":
        check_sqlite(d, int(sys.argv[3]))
    else:
        sys.exit(__doc__)
