#define _GNU_SOURCE
#include "erm_core_test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RESULT(expression) ((expression) < 0 ? -errno : 0)

int erm_test_unshare_fs(void) { return RESULT(unshare(CLONE_FS)); }

int erm_test_enter_root(const char *path) {
  if (chroot(path) != 0) return -errno;
  if (chdir("/") != 0) return -errno;
  umask(0);
  return 0;
}

int erm_test_renameat2(const char *from, const char *to, unsigned int flags) {
  return RESULT(renameat2(AT_FDCWD, from, AT_FDCWD, to, flags));
}

int erm_test_fallocate(int fd, int mode, int64_t offset, int64_t length) {
  return RESULT(fallocate(fd, mode, (off_t)offset, (off_t)length));
}

int erm_test_setxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
  return RESULT(setxattr(path, name, value, size, flags));
}

long erm_test_getxattr(const char *path, const char *name, void *value, size_t size) {
  ssize_t n = getxattr(path, name, value, size);
  return n < 0 ? -errno : (long)n;
}

long erm_test_listxattr(const char *path, char *list, size_t size) {
  ssize_t n = listxattr(path, list, size);
  return n < 0 ? -errno : (long)n;
}

int erm_test_removexattr(const char *path, const char *name) { return RESULT(removexattr(path, name)); }

int erm_test_utimensat(const char *path, int64_t asec, long ansec, int64_t msec, long mnsec, int nofollow) {
  struct timespec times[2] = {{.tv_sec = asec, .tv_nsec = ansec}, {.tv_sec = msec, .tv_nsec = mnsec}};
  return RESULT(utimensat(AT_FDCWD, path, times, nofollow ? AT_SYMLINK_NOFOLLOW : 0));
}

long erm_test_utime_now(void) { return UTIME_NOW; }
long erm_test_utime_omit(void) { return UTIME_OMIT; }

int erm_test_lchown(const char *path, uint32_t uid, uint32_t gid) { return RESULT(lchown(path, uid, gid)); }

int64_t erm_test_lseek(int fd, int64_t offset, int whence) {
  off_t r = lseek(fd, (off_t)offset, whence);
  return r < 0 ? -errno : (int64_t)r;
}
