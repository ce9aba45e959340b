/* System calls the tests make exactly as named (glibc may route mkdir() through
 * mkdirat, and has no openat2 wrapper), for checking which creations the producer
 * sees. Each returns the syscall's result, or -errno. Tests only. */
#ifndef ARENA_TEST_SUPPORT_H
#define ARENA_TEST_SUPPORT_H

#include <stdint.h>

long ermfs_test_open(const char *path, int flags, uint32_t mode);
long ermfs_test_openat(int dirfd, const char *path, int flags, uint32_t mode);
long ermfs_test_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode);
long ermfs_test_creat(const char *path, uint32_t mode);
long ermfs_test_mkdir(const char *path, uint32_t mode);
long ermfs_test_mkdirat(int dirfd, const char *path, uint32_t mode);
long ermfs_test_mknod(const char *path, uint32_t mode);
long ermfs_test_mknodat(int dirfd, const char *path, uint32_t mode);

#endif
