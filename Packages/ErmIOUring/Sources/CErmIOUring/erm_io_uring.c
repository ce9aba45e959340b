#define _GNU_SOURCE
#include "erm_io_uring.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/mman.h>

_Static_assert(ERM_MFD_CLOEXEC == MFD_CLOEXEC, "MFD_CLOEXEC");
_Static_assert(ERM_MFD_ALLOW_SEALING == MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING");
_Static_assert(ERM_SEAL_SEAL == F_SEAL_SEAL, "F_SEAL_SEAL");
_Static_assert(ERM_SEAL_SHRINK == F_SEAL_SHRINK, "F_SEAL_SHRINK");
_Static_assert(ERM_SEAL_GROW == F_SEAL_GROW, "F_SEAL_GROW");
_Static_assert(ERM_SEAL_WRITE == F_SEAL_WRITE, "F_SEAL_WRITE");

struct erm_ring {
  struct io_uring ring;
};

erm_ring *erm_ring_create(unsigned entries) {
  erm_ring *r = calloc(1, sizeof *r);
  if (r == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  int rc = io_uring_queue_init(entries, &r->ring, 0);
  if (rc < 0) {
    free(r);
    errno = -rc;
    return NULL;
  }
  return r;
}

void erm_ring_destroy(erm_ring *r) {
  if (r == NULL) return;
  io_uring_queue_exit(&r->ring);
  free(r);
}

unsigned erm_ring_sq_entries(const erm_ring *r) { return r->ring.sq.ring_entries; }

int erm_ring_fd(const erm_ring *r) { return r->ring.ring_fd; }

int erm_ring_prep_write(erm_ring *r, int fd, const void *buf, unsigned nbytes,
                        uint64_t offset, uint64_t user_data) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
  if (sqe == NULL) return -EBUSY;
  io_uring_prep_write(sqe, fd, buf, nbytes, offset);
  io_uring_sqe_set_data64(sqe, user_data);
  return 0;
}

int erm_ring_prep_read(erm_ring *r, int fd, void *buf, unsigned nbytes,
                       uint64_t offset, uint64_t user_data) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
  if (sqe == NULL) return -EBUSY;
  io_uring_prep_read(sqe, fd, buf, nbytes, offset);
  io_uring_sqe_set_data64(sqe, user_data);
  return 0;
}

int erm_ring_submit_and_wait(erm_ring *r, unsigned wait_nr) {
  return io_uring_submit_and_wait(&r->ring, wait_nr);
}

int erm_ring_submit(erm_ring *r) { return io_uring_submit(&r->ring); }

unsigned erm_ring_cq_ready(const erm_ring *r) { return io_uring_cq_ready(&r->ring); }

unsigned erm_ring_reap(erm_ring *r, erm_completion *out, unsigned max) {
  // Copy in small batches so no pointer into the completion ring escapes the shim.
  struct io_uring_cqe *cqes[64];
  unsigned total = 0;
  while (total < max) {
    unsigned want = max - total < 64 ? max - total : 64;
    unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, want);
    for (unsigned i = 0; i < n; i++) {
      out[total + i].user_data = cqes[i]->user_data;
      out[total + i].result = cqes[i]->res;
      out[total + i].flags = cqes[i]->flags;
    }
    io_uring_cq_advance(&r->ring, n);
    total += n;
    if (n < want) break;
  }
  return total;
}

int erm_memfd_create(const char *name, unsigned flags) { return memfd_create(name, flags); }

int erm_add_seals(int fd, unsigned seals) { return fcntl(fd, F_ADD_SEALS, seals); }

int erm_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }
