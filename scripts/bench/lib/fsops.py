#!/usr/bin/env python3
"""Metadata operations timed one phase at a time, for the mount benchmarks.

  fsops.py DIR N    creates N empty files in DIR/meta (open O_CREAT|O_EXCL + close),
                    stats them all, lists the directory, unlinks them all, and prints
                    "create <ops/s>", "stat <ops/s>", "list <entries/s>", "unlink <ops/s>".
"""
import os
import sys
import time

root, n = sys.argv[1], int(sys.argv[2])
d = os.path.join(root, "meta")
os.mkdir(d)
names = [os.path.join(d, f"f{i:06d}") for i in range(n)]


def phase(label, body):
    start = time.perf_counter()
    count = body()
    seconds = time.perf_counter() - start
    print(f"{label} {count / seconds:.0f}", flush=True)


def create():
    for name in names:
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return n


def stat():
    for name in names:
        os.stat(name)
    return n


def listing():
    return sum(1 for _ in os.scandir(d))


def unlink():
    for name in names:
        os.unlink(name)
    return n


phase("create", create)
phase("stat", stat)
phase("list", listing)
phase("unlink", unlink)
os.rmdir(d)
