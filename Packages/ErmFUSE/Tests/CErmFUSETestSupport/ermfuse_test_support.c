#define _GNU_SOURCE
#include "ermfuse_test_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>

int64_t ermfuse_test_copy_file_range(int in, int64_t off_in, int out, int64_t off_out, size_t length) {
  loff_t a = off_in, b = off_out;
  ssize_t n = copy_file_range(in, &a, out, &b, length, 0);
  return n < 0 ? -errno : n;
}

int ermfuse_test_renameat2(const char *from, const char *to, unsigned flags) {
  return renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0 ? 0 : -errno;
}

int ermfuse_test_create_as(const char *path, uint32_t uid, uint32_t gid) {
  // setfsuid applies to the calling thread only: the test runs this on its own thread.
  setfsgid(gid);
  setfsuid(uid);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  int result = fd < 0 ? -errno : 0;
  if (fd >= 0) close(fd);
  setfsuid(getuid());
  setfsgid(getgid());
  return result;
}

int64_t ermfuse_test_resident_pages(const char *path, size_t length) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -errno;
  void *map = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return -errno;
  long page = sysconf(_SC_PAGESIZE);
  size_t pages = (length + (size_t)page - 1) / (size_t)page;
  unsigned char *vec = malloc(pages);
  int64_t resident = -ENOMEM;
  if (vec && mincore(map, length, vec) == 0) {
    resident = 0;
    for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
  } else if (vec) {
    resident = -errno;
  }
  free(vec);
  munmap(map, length);
  return resident;
}

int ermfuse_test_setxattr(const char *path, const char *name, const void *value, size_t size) {
  return setxattr(path, name, value, size, 0) == 0 ? 0 : -errno;
}

int64_t ermfuse_test_listxattr(const char *path, char *buffer, size_t size) {
  ssize_t n = listxattr(path, buffer, size);
  return n < 0 ? -errno : n;
}
