// ErmIOUring's C shim over liburing. This header exposes only plain C types and an
// opaque ring handle: liburing.h is included by erm_io_uring.c alone, because importing
// it into Swift breaks clean builds. Each function prepares or does exactly one thing.
#ifndef ERM_IO_URING_H
#define ERM_IO_URING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An io_uring instance (a `struct io_uring` owned by the shim).
typedef struct erm_ring erm_ring;

/// One reaped completion queue entry: the user data given at preparation and the result
/// (bytes transferred, or a negative errno).
typedef struct erm_completion {
  uint64_t user_data;
  int32_t result;
  uint32_t flags;
} erm_completion;

/// `io_uring_queue_init(entries, ring, 0)`. Returns the ring, or NULL with errno set
/// (EINVAL bad depth, ENOMEM, ENOSYS no io_uring, EPERM disabled by sysctl/seccomp).
erm_ring *erm_ring_create(unsigned entries);

/// `io_uring_queue_exit` (unmaps the rings, closes the ring fd) and frees the handle.
/// NULL is accepted and ignored.
void erm_ring_destroy(erm_ring *ring);

/// Submission queue entries the kernel gave the ring (the requested depth rounded up to
/// a power of two).
unsigned erm_ring_sq_entries(const erm_ring *ring);

/// The ring's own file descriptor (for diagnostics and leak tests).
int erm_ring_fd(const erm_ring *ring);

/// `io_uring_get_sqe` + `io_uring_prep_write` + `io_uring_sqe_set_data64`.
/// Returns 0, or -EBUSY when the submission queue is full (nothing prepared).
int erm_ring_prep_write(erm_ring *ring, int fd, const void *buf, unsigned nbytes,
                        uint64_t offset, uint64_t user_data);

/// `io_uring_get_sqe` + `io_uring_prep_read` + `io_uring_sqe_set_data64`.
/// Returns 0, or -EBUSY when the submission queue is full (nothing prepared).
int erm_ring_prep_read(erm_ring *ring, int fd, void *buf, unsigned nbytes,
                       uint64_t offset, uint64_t user_data);

/// `io_uring_submit_and_wait`: submits every prepared entry and waits until at least
/// `wait_nr` completions are available (one io_uring_enter system call).
/// Returns the number submitted, or a negative errno.
int erm_ring_submit_and_wait(erm_ring *ring, unsigned wait_nr);

/// `io_uring_submit`: submits every prepared entry without waiting (one io_uring_enter).
/// Returns the number submitted, or a negative errno.
int erm_ring_submit(erm_ring *ring);

/// `io_uring_cq_ready`: completions available right now, without a system call.
unsigned erm_ring_cq_ready(const erm_ring *ring);

/// `io_uring_peek_batch_cqe` + `io_uring_cq_advance`: copies up to `max` completions that
/// are already available into `out` and marks them seen. Never waits. Returns the count.
unsigned erm_ring_reap(erm_ring *ring, erm_completion *out, unsigned max);

// memfd and seals: Swift's Glibc module lacks them (they need _GNU_SOURCE).
// Values equal the kernel's MFD_* and F_SEAL_* (checked at compile time in the .c file).
#define ERM_MFD_CLOEXEC 0x0001U
#define ERM_MFD_ALLOW_SEALING 0x0002U
#define ERM_SEAL_SEAL 0x0001U
#define ERM_SEAL_SHRINK 0x0002U
#define ERM_SEAL_GROW 0x0004U
#define ERM_SEAL_WRITE 0x0008U

/// `memfd_create(name, flags)`: a descriptor or -1 with errno set.
int erm_memfd_create(const char *name, unsigned flags);

/// `fcntl(fd, F_ADD_SEALS, seals)`: 0 or -1 with errno set.
int erm_add_seals(int fd, unsigned seals);

/// `fcntl(fd, F_SETPIPE_SZ, size)`: the new pipe capacity or -1 with errno set.
int erm_set_pipe_size(int fd, int size);

#ifdef __cplusplus
}
#endif

#endif
