// Linux calls the differential test needs that Swift's Glibc module does not export
// (they need _GNU_SOURCE or <sys/xattr.h>). Each returns 0 (or a count) on success and
// -errno on failure, so the Swift side never reads errno after another call.
#ifndef ERM_CORE_TEST_SUPPORT_H
#define ERM_CORE_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/// unshare(CLONE_FS): gives the calling thread its own root, cwd and umask.
int erm_test_unshare_fs(void);
/// chroot + chdir("/") + umask(0) for the calling thread (after erm_test_unshare_fs).
int erm_test_enter_root(const char *path);
int erm_test_renameat2(const char *from, const char *to, unsigned int flags);
int erm_test_fallocate(int fd, int mode, int64_t offset, int64_t length);
int erm_test_setxattr(const char *path, const char *name, const void *value, size_t size, int flags);
/// Returns the value's length, or -errno.
long erm_test_getxattr(const char *path, const char *name, void *value, size_t size);
long erm_test_listxattr(const char *path, char *list, size_t size);
int erm_test_removexattr(const char *path, const char *name);
/// utimensat(AT_FDCWD, ...); `nofollow` sets AT_SYMLINK_NOFOLLOW. Nanoseconds may be
/// UTIME_NOW / UTIME_OMIT (erm_test_utime_now / _omit).
int erm_test_utimensat(const char *path, int64_t asec, long ansec, int64_t msec, long mnsec, int nofollow);
long erm_test_utime_now(void);
long erm_test_utime_omit(void);
int erm_test_lchown(const char *path, uint32_t uid, uint32_t gid);
/// lseek returning the offset or -errno (SEEK_DATA = 3, SEEK_HOLE = 4 allowed).
int64_t erm_test_lseek(int fd, int64_t offset, int whence);

#endif
