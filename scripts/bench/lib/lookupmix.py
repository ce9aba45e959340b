#!/usr/bin/env python3
"""The lookup-heavy mix through a mounted file system, for the locking benchmark.

  lookupmix.py DIR PROCESSES SECONDS

Makes 16 small files in 3 directories under DIR/mix (once), then runs PROCESSES
processes that each, for SECONDS, stat + open + read 64 bytes + close those files in
turn. Prints "ops <operations per second, all processes>" (one operation = the four
calls on one file).
"""
import os
import sys
import time

root, processes, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
base = os.path.join(root, "mix")
files = [os.path.join(base, f"d{i % 3}", f"f{i:02d}") for i in range(16)]
if not os.path.isdir(base):
    for i in range(3):
        os.makedirs(os.path.join(base, f"d{i}"))
    for i, name in enumerate(files):
        with open(name, "wb") as f:
            f.write(bytes([65 + i]) * 4096)

reader, writer = os.pipe()
children = []
for _ in range(processes):
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        count = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for name in files:
                os.stat(name)
                fd = os.open(name, os.O_RDONLY)
                os.read(fd, 64)
                os.close(fd)
            count += len(files)
        os.write(writer, f"{count}\n".encode())
        os._exit(0)
    children.append(pid)
os.close(writer)
for pid in children:
    os.waitpid(pid, 0)
with os.fdopen(reader) as r:
    total = sum(int(line) for line in r if line.strip())
print(f"ops {total / seconds:.0f}")
