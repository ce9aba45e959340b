#define _GNU_SOURCE
#include "CErmAlloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

long erm_page_size(void) { return sysconf(_SC_PAGESIZE); }

int erm_map_anonymous(size_t length, void **out) {
  void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return errno;
  *out = p;
  return 0;
}

int erm_remap(void *address, size_t old_length, size_t new_length, int may_move, void **out) {
  void *p = mremap(address, old_length, new_length, may_move ? MREMAP_MAYMOVE : 0);
  if (p == MAP_FAILED) return errno;
  *out = p;
  return 0;
}

int erm_unmap(void *address, size_t length) {
  return munmap(address, length) == 0 ? 0 : errno;
}

int erm_discard(void *address, size_t length) {
  return madvise(address, length, MADV_DONTNEED) == 0 ? 0 : errno;
}

int erm_populate_write(void *address, size_t length) {
#ifdef MADV_POPULATE_WRITE
  return madvise(address, length, MADV_POPULATE_WRITE) == 0 ? 0 : errno;
#else
  return EINVAL;
#endif
}

int erm_resident_pages(void *address, size_t length, size_t *resident_pages) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t pages = (length + page - 1) / page;
  // One status byte per page; a small stack window keeps this allocation-free.
  unsigned char status[4096];
  size_t resident = 0;
  for (size_t done = 0; done < pages;) {
    size_t n = pages - done < sizeof status ? pages - done : sizeof status;
    if (mincore((char *)address + done * page, n * page, status) != 0) return errno;
    for (size_t i = 0; i < n; i++) resident += status[i] & 1;
    done += n;
  }
  *resident_pages = resident;
  return 0;
}

long erm_process_resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  int n = fscanf(f, "%ld %ld", &size, &resident);
  fclose(f);
  if (n != 2) { errno = EIO; return -1; }
  return resident * sysconf(_SC_PAGESIZE);
}

long erm_process_peak_resident_bytes(void) {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return usage.ru_maxrss * 1024L;  // ru_maxrss is in KiB on Linux
}
