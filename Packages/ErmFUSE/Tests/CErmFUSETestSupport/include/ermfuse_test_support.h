// Linux calls the ErmFUSE tests make that Swift's Glibc module does not export (they
// need _GNU_SOURCE). Each returns 0 / a count, or -errno.
#ifndef ERMFUSE_TEST_SUPPORT_H
#define ERMFUSE_TEST_SUPPORT_H

#include <stdint.h>
#include <sys/types.h>

/// `copy_file_range(in, &off_in, out, &off_out, length, 0)`.
int64_t ermfuse_test_copy_file_range(int in, int64_t off_in, int out, int64_t off_out, size_t length);

/// `renameat2(AT_FDCWD, from, AT_FDCWD, to, flags)`.
int ermfuse_test_renameat2(const char *from, const char *to, unsigned flags);

/// Runs `setfsuid(uid)` and `setfsgid(gid)` for the calling thread only (file system
/// checks and the uid/gid FUSE sees), then creates `path` with mode 0644 and closes it.
int ermfuse_test_create_as(const char *path, uint32_t uid, uint32_t gid);

/// Pages of the file at `path` (the first `length` bytes) resident in the page cache
/// (`mmap` + `mincore`).
int64_t ermfuse_test_resident_pages(const char *path, size_t length);

/// `setxattr(path, name, value, size, 0)`.
int ermfuse_test_setxattr(const char *path, const char *name, const void *value, size_t size);

/// `listxattr(path, buffer, size)`: the length, or -errno.
int64_t ermfuse_test_listxattr(const char *path, char *buffer, size_t size);

#endif
