// Page-mapping calls for ErmAlloc. Plain C types only: the .c file includes the system
// headers privately with _GNU_SOURCE, which Swift's Glibc module does not define
// (mremap and MREMAP_MAYMOVE are invisible without it).
#ifndef CERMALLOC_H
#define CERMALLOC_H

#include <stddef.h>

/// The system page size (sysconf(_SC_PAGESIZE)).
long erm_page_size(void);

/// mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0).
/// Returns 0 and stores the address in *out, or returns the errno.
int erm_map_anonymous(size_t length, void **out);

/// mremap(address, old_length, new_length, may_move ? MREMAP_MAYMOVE : 0).
/// Returns 0 and stores the (possibly moved) address in *out, or returns the errno.
int erm_remap(void *address, size_t old_length, size_t new_length, int may_move, void **out);

/// munmap(address, length). Returns 0 or the errno.
int erm_unmap(void *address, size_t length);

/// madvise(address, length, MADV_DONTNEED): private anonymous pages are freed and read
/// back as zero. Returns 0 or the errno.
int erm_discard(void *address, size_t length);

/// madvise(address, length, MADV_POPULATE_WRITE) (Linux 5.14+): faults the pages in
/// writable in one call instead of one page fault per page. Returns 0 or the errno
/// (EINVAL on kernels without it).
int erm_populate_write(void *address, size_t length);

/// mincore over [address, address+length): stores the number of resident pages in
/// *resident_pages. Returns 0 or the errno (ENOMEM when part of the range is unmapped).
int erm_resident_pages(void *address, size_t length, size_t *resident_pages);

/// Resident set size of the whole process in bytes (second field of /proc/self/statm
/// times the page size), or -1 with errno set.
long erm_process_resident_bytes(void);

/// Peak resident set size of the process in bytes (getrusage ru_maxrss), or -1.
long erm_process_peak_resident_bytes(void);

#endif
