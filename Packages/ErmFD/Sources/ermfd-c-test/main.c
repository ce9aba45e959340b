// Links ERMFS's C API (ErmFSC) from plain C and checks it; run by the Swift test
// CAPITests. Prints one line per failed check and exits 1 if any failed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ermfs.h"

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      printf("FAILED line %d: %s (errno %d)\n", __LINE__, #cond, errno); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

int main(void) {
  CHECK(ermfs_api_version() == ERMFS_API_VERSION);
  CHECK(ermfs_set_lockless_mode(1) == 0);  // files made lock-free, exported after the switch back
  CHECK(ermfs_mkdir("/c", 0755) == 0);
  static char big[300000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 7);
  CHECK(ermfs_put_file("/c/hello.txt", "hello from C", 12, 0644) == 0);
  CHECK(ermfs_put_file("/c/big", big, sizeof big, 0644) == 0);

  CHECK(ermfs_set_lockless_mode(0) == 0);
  CHECK(ermfs_set_lockless_mode(0) == 0);  // already locked: nothing to do
  int fd = ermfs_export_memfd("/c/hello.txt", 0);
  CHECK(fd >= 0);
  char buffer[64] = {0};
  CHECK(read(fd, buffer, sizeof buffer) == 12);
  CHECK(memcmp(buffer, "hello from C", 12) == 0);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 12);
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  close(fd);

  fd = ermfs_export_memfd("/c/big", ERMFS_EXPORT_SEALED);
  CHECK(fd >= 0);
  char *map = mmap(NULL, sizeof big, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(map != MAP_FAILED && memcmp(map, big, sizeof big) == 0);
  if (map != MAP_FAILED) munmap(map, sizeof big);
  errno = 0;
  CHECK(pwrite(fd, "x", 1, 0) == -1 && errno == EPERM);
  close(fd);

  errno = 0;
  CHECK(ermfs_export_memfd("/c/missing", 0) == -1 && errno == ENOENT);
  errno = 0;
  CHECK(ermfs_export_memfd("/c", 0) == -1 && errno == EISDIR);
  errno = 0;
  CHECK(ermfs_export_memfd("/c/hello.txt", 0x40) == -1 && errno == EINVAL);
  errno = 0;
  CHECK(ermfs_export_memfd(NULL, 0) == -1 && errno == EINVAL);
  errno = 0;
  CHECK(ermfs_put_file("/nodir/x", "x", 1, 0644) == -1 && errno == ENOENT);

  if (failures == 0) printf("ok\n");
  return failures == 0 ? 0 : 1;
}
