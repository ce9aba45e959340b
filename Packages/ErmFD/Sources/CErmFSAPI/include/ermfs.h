// ERMFS for C callers: export files of the process-wide ErmFS as memfds.
// Link the ErmFSC library product. Which ErmFS these calls reach: the one Swift code
// installed with ProcessFileSystem.install(_:), else one created on first use with the
// default configuration (ermfs_put_file fills it).
#ifndef ERMFS_H
#define ERMFS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ERMFS_API_VERSION 1

/// Seal the memfd (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL): writes fail with EPERM.
#define ERMFS_EXPORT_SEALED 0x1
/// Create the memfd executable (MFD_EXEC) for fexecve.
#define ERMFS_EXPORT_EXECUTABLE 0x2

/// Exports `path` as a memfd holding a snapshot of its contents (close-on-exec, offset 0).
/// Returns the descriptor (the caller closes it), or -1 with errno set: ENOENT, EISDIR,
/// EINVAL (unknown flags, relative path, NULL), EMFILE, ENOMEM, EACCES (executable memfds
/// forbidden by vm.memfd_noexec).
int ermfs_export_memfd(const char *path, int flags);

/// Switches the process-wide ErmFS between its lock-free (`enabled` non-zero) and locked
/// namespace and descriptor table; the tree is kept. Returns 0, or -1 with errno set:
/// EBUSY (a descriptor of that ErmFS is open, or a FUSE kernel lookup is held), EINVAL.
int ermfs_set_lockless_mode(int enabled);

/// Creates or replaces the regular file `path` (its directory must exist) holding
/// `count` bytes from `bytes`, with permission bits `mode`. Returns 0, or -1 with errno
/// set (ENOENT, ENOTDIR, EISDIR, EINVAL, ENOSPC).
int ermfs_put_file(const char *path, const void *bytes, size_t count, unsigned mode);

/// Creates the directory `path`. Returns 0, or -1 with errno set (EEXIST, ENOENT, ...).
int ermfs_mkdir(const char *path, unsigned mode);

/// ERMFS_API_VERSION of the linked library.
int ermfs_api_version(void);

#ifdef __cplusplus
}
#endif

#endif
