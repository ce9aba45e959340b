// ErmFUSE's C shim over libfuse3's low-level API (FUSE_USE_VERSION 314). This header has
// plain C types and opaque handles only: fuse_lowlevel.h is included by ermfuse.c alone.
//
// Shape: the shim owns every libfuse reply. Swift fills one table of C function pointers
// (`ermfuse_operations`); each one answers one FUSE request by filling plain structs and
// returning 0 or a positive errno (reads, writes and xattr reads return a count or a
// negative errno), and the shim turns that into the fuse_reply_* call.
#ifndef ERMFUSE_H
#define ERMFUSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A FUSE session: a `struct fuse_session` plus the configuration and counters the shim keeps.
typedef struct ermfuse_session ermfuse_session;

/// A directory listing being filled for one FUSE_READDIR(PLUS) reply.
typedef struct ermfuse_dirbuf ermfuse_dirbuf;

/// The attributes an entry or attr reply carries (the `struct stat` fields FUSE uses).
typedef struct ermfuse_attr {
  uint64_t ino;
  uint32_t mode;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint64_t rdev;
  int64_t size;
  int64_t blocks;
  int64_t atime_sec, atime_nsec;
  int64_t mtime_sec, mtime_nsec;
  int64_t ctime_sec, ctime_nsec;
} ermfuse_attr;

/// Who sent a request (`fuse_req_ctx`): new inodes get this uid/gid; uid 0 is privileged.
typedef struct ermfuse_caller {
  uint32_t uid;
  uint32_t gid;
  int32_t pid;
  uint32_t umask;
} ermfuse_caller;

/// `FUSE_SET_ATTR_*` bits of a setattr request (same values as libfuse).
enum {
  ERMFUSE_SET_MODE = 1 << 0,
  ERMFUSE_SET_UID = 1 << 1,
  ERMFUSE_SET_GID = 1 << 2,
  ERMFUSE_SET_SIZE = 1 << 3,
  ERMFUSE_SET_ATIME = 1 << 4,
  ERMFUSE_SET_MTIME = 1 << 5,
  ERMFUSE_SET_ATIME_NOW = 1 << 7,
  ERMFUSE_SET_MTIME_NOW = 1 << 8,
  ERMFUSE_SET_CTIME = 1 << 10,
};

/// What a setattr request asks for; only the fields named in `valid` mean anything.
typedef struct ermfuse_setattr {
  int32_t valid;
  uint32_t mode;
  uint32_t uid;
  uint32_t gid;
  int64_t size;
  int64_t atime_sec, atime_nsec;
  int64_t mtime_sec, mtime_nsec;
} ermfuse_setattr;

/// What a statfs reply carries (`struct statvfs`).
typedef struct ermfuse_statfs {
  uint64_t block_size;
  uint64_t blocks;
  uint64_t blocks_free;
  uint64_t files;
  uint64_t files_free;
  uint64_t name_max;
} ermfuse_statfs;

/// What the kernel and libfuse agreed on in FUSE_INIT (for statistics and the docs).
typedef struct ermfuse_connection {
  uint32_t proto_major, proto_minor;
  uint32_t max_write;
  uint32_t max_read;
  uint32_t max_readahead;
  uint32_t max_background;
  uint32_t congestion_threshold;
  uint32_t capable;
  uint32_t want;
  uint32_t time_gran;
} ermfuse_connection;

/// Kernel caching and loop settings, chosen in docs/decisions/fuse-caching.md and
/// fuse-threading.md. Timeouts are seconds.
typedef struct ermfuse_config {
  double entry_timeout;
  double attr_timeout;
  /// How long a "no such entry" answer is cached (0: not cached).
  double negative_timeout;
  /// FUSE_CAP_WRITEBACK_CACHE (the kernel buffers writes and sends them in pages).
  int writeback_cache;
  /// FOPEN_KEEP_CACHE on open: the page cache survives open() of an unchanged file.
  int keep_cache;
  /// FUSE_CAP_SPLICE_WRITE|MOVE (replies through a pipe) and FUSE_CAP_SPLICE_READ.
  int splice;
  /// 0: libfuse's default (1 MiB with max_pages 256).
  uint32_t max_write;
  /// 0: what the kernel offers.
  uint32_t max_readahead;
  /// 0: the kernel default (12).
  uint32_t max_background;
  /// 0: no readdirplus; 1: always; 2: the kernel decides (READDIRPLUS_AUTO).
  int readdirplus;
  /// Worker threads of fuse_session_loop_mt (at least 1).
  uint32_t max_threads;
  /// Threads kept idle (-1: never destroy idle threads).
  int32_t max_idle_threads;
  /// One /dev/fuse descriptor per worker (FUSE_DEV_IOC_CLONE).
  int clone_fd;
} ermfuse_config;

/// The request handlers. `context` is the pointer given to ermfuse_session_create. Calls
/// come from libfuse's worker threads, concurrently. 0 or a positive errno unless stated.
typedef struct ermfuse_operations {
  /// FUSE_INIT is done: `connection` holds what was agreed. Requests follow.
  void (*initialized)(void *context, const ermfuse_connection *connection);
  /// Called by the housekeeping thread after each second without invalidations to send
  /// (the daemon may give memory back then); may be NULL. Returns the bytes the file
  /// system holds mapped outside malloc's heap (its page allocator), which the shim
  /// leaves out when it decides whether freed heap memory is worth a malloc_trim.
  size_t (*quiet)(void *context);
  /// FUSE_LOOKUP: fill `out` and add one lookup, or ENOENT (the shim caches it as a
  /// negative entry for negative_timeout).
  int (*lookup)(void *context, uint64_t parent, const char *name, ermfuse_attr *out);
  /// FUSE_FORGET / FUSE_BATCH_FORGET (one call per inode): take back `count` lookups.
  void (*forget)(void *context, uint64_t ino, uint64_t count);
  int (*getattr)(void *context, uint64_t ino, ermfuse_attr *out);
  /// FUSE_SETATTR; `fh` is UINT64_MAX when the request names no open file.
  int (*setattr)(void *context, const ermfuse_caller *caller, uint64_t ino,
                 const ermfuse_setattr *changes, uint64_t fh, ermfuse_attr *out);
  /// FUSE_READLINK: the target's length (it may exceed `capacity`, then it was cut), or
  /// a negative errno.
  ssize_t (*readlink)(void *context, uint64_t ino, char *target, size_t capacity);
  int (*mknod)(void *context, const ermfuse_caller *caller, uint64_t parent, const char *name,
               uint32_t mode, uint64_t rdev, ermfuse_attr *out);
  int (*mkdir)(void *context, const ermfuse_caller *caller, uint64_t parent, const char *name,
               uint32_t mode, ermfuse_attr *out);
  int (*unlink)(void *context, uint64_t parent, const char *name);
  int (*rmdir)(void *context, uint64_t parent, const char *name);
  int (*symlink)(void *context, const ermfuse_caller *caller, const char *target,
                 uint64_t parent, const char *name, ermfuse_attr *out);
  int (*rename)(void *context, uint64_t parent, const char *name, uint64_t new_parent,
                const char *new_name, uint32_t flags);
  int (*link)(void *context, uint64_t ino, uint64_t new_parent, const char *new_name,
              ermfuse_attr *out);
  /// FUSE_OPEN: `flags` are open(2)'s; store the file handle in `fh`.
  int (*open)(void *context, uint64_t ino, int32_t flags, uint64_t *fh);
  /// FUSE_READ into `buffer` (`size` bytes): the count, or a negative errno.
  ssize_t (*read)(void *context, uint64_t ino, uint64_t fh, void *buffer, size_t size, int64_t offset);
  /// FUSE_WRITE: the count written, or a negative errno.
  ssize_t (*write)(void *context, uint64_t ino, uint64_t fh, const void *buffer, size_t size,
                   int64_t offset);
  int (*release)(void *context, uint64_t ino, uint64_t fh);
  int (*fsync)(void *context, uint64_t ino, uint64_t fh, int datasync);
  int (*opendir)(void *context, uint64_t ino, int32_t flags, uint64_t *fh);
  /// FUSE_READDIR (`plus` 0) or FUSE_READDIRPLUS (`plus` 1): add entries after cookie
  /// `offset` with ermfuse_dirbuf_add until it reports the buffer full.
  int (*readdir)(void *context, uint64_t ino, uint64_t fh, int64_t offset, int plus,
                 ermfuse_dirbuf *buffer);
  int (*releasedir)(void *context, uint64_t ino, uint64_t fh);
  int (*statfs)(void *context, uint64_t ino, ermfuse_statfs *out);
  int (*setxattr)(void *context, const ermfuse_caller *caller, uint64_t ino, const char *name,
                  const void *value, size_t size, int32_t flags);
  /// FUSE_GETXATTR: the value's length (copied into `buffer` when `capacity` > 0), or a
  /// negative errno (-ERANGE when it does not fit).
  ssize_t (*getxattr)(void *context, const ermfuse_caller *caller, uint64_t ino,
                      const char *name, void *buffer, size_t capacity);
  /// FUSE_LISTXATTR: like getxattr, for the NUL-separated names.
  ssize_t (*listxattr)(void *context, const ermfuse_caller *caller, uint64_t ino, void *buffer,
                       size_t capacity);
  int (*removexattr)(void *context, const ermfuse_caller *caller, uint64_t ino, const char *name);
  int (*create)(void *context, const ermfuse_caller *caller, uint64_t parent, const char *name,
                uint32_t mode, int32_t flags, uint64_t *fh, ermfuse_attr *out);
  int (*fallocate)(void *context, uint64_t ino, uint64_t fh, int32_t mode, int64_t offset,
                   int64_t length);
  /// FUSE_LSEEK (SEEK_DATA / SEEK_HOLE): the new offset in `result`.
  int (*lseek)(void *context, uint64_t ino, uint64_t fh, int64_t offset, int32_t whence,
               int64_t *result);
  /// FUSE_COPY_FILE_RANGE: bytes copied, or a negative errno.
  ssize_t (*copy_file_range)(void *context, uint64_t ino_in, uint64_t fh_in, int64_t offset_in,
                             uint64_t ino_out, uint64_t fh_out, int64_t offset_out, size_t length,
                             uint32_t flags);
} ermfuse_operations;

/// `fuse_session_new` with `-o` options `options[0..<count]` (e.g. "fsname=ermfs",
/// "default_permissions"), the handlers, and `context` passed back to each of them.
/// Returns NULL with errno set: EINVAL (an option libfuse rejects; it printed why),
/// ENOMEM.
ermfuse_session *ermfuse_session_create(const char *const *options, int count,
                                        const ermfuse_config *config,
                                        const ermfuse_operations *operations, void *context);

/// `fuse_session_mount`: mounts at `mountpoint` (mount(2) as root, else fusermount3).
/// Returns 0 or an errno (ENODEV /dev/fuse missing, EPERM, ENOENT, ...; libfuse
/// printed the detail on stderr).
int ermfuse_session_mount(ermfuse_session *session, const char *mountpoint);

/// Starts serving: a thread runs `fuse_session_loop_mt` with the configured workers,
/// and a housekeeping thread sends the queued cache invalidations and, after a quiet
/// second, gives freed heap memory back (`malloc_trim`) once the heap in use fell 8 MiB
/// below its peak. Returns 0 or an errno.
int ermfuse_session_start(ermfuse_session *session);

/// Waits until FUSE_INIT has been answered by the `initialized` handler (0), the loop
/// ended first (its errno, or ECANCELED), or `timeout_ms` passed (ETIMEDOUT).
int ermfuse_session_wait_initialized(ermfuse_session *session, int timeout_ms);

/// Waits for the loop started by ermfuse_session_start to end (after
/// ermfuse_session_stop, or when the file system was unmounted) and for the
/// invalidation thread. Returns 0, or the loop's errno.
int ermfuse_session_join(ermfuse_session *session);

/// Ends the loop from any thread: `fuse_session_exit`, then wakes the loop's
/// thread (SIGUSR2, a no-op handler the shim installs) until the loop has returned.
/// Requests in flight finish first. Safe to call more than once.
void ermfuse_session_stop(ermfuse_session *session);

/// `fuse_session_unmount`: lazy unmount (umount2 MNT_DETACH as root, else
/// `fusermount3 -u -z`) and closes /dev/fuse. Safe to call more than once.
void ermfuse_session_unmount(ermfuse_session *session);

/// `fuse_session_destroy` and frees the handle. NULL is ignored.
void ermfuse_session_destroy(ermfuse_session *session);

/// `fuse_lowlevel_notify_inval_inode`: drop the kernel's cached pages of `ino` in
/// [offset, offset + length) (length 0: to the end; offset -1: attributes only).
/// Returns 0 or an errno (ENOENT: the kernel holds no such inode).
int ermfuse_invalidate_inode(ermfuse_session *session, uint64_t ino, int64_t offset, int64_t length);

/// Queues `fuse_lowlevel_notify_inval_inode(ino, 0, 0)` (cached pages and attributes)
/// for the invalidation thread: a handler must not send it itself, since the kernel may
/// wait on a page whose read only another worker can answer.
void ermfuse_invalidate_inode_later(ermfuse_session *session, uint64_t ino);

/// Requests received so far with opcode `opcode` (FUSE_LOOKUP = 1, ...; up to 63), for
/// statistics and the caching measurements.
uint64_t ermfuse_request_count(const ermfuse_session *session, uint32_t opcode);

/// Adds one entry to a listing. `attr` is needed for readdirplus (its lookup count was
/// already added); for readdir only ino and mode matter. `next_offset` resumes the
/// listing after this entry. Returns 0, or 1 when the entry does not fit (nothing added).
int ermfuse_dirbuf_add(ermfuse_dirbuf *buffer, const char *name, size_t name_length,
                       const ermfuse_attr *attr, int64_t next_offset);

/// Whether an entry named with `name_length` bytes still fits (1) or not (0), so a
/// readdirplus handler adds a lookup only for entries that will be sent.
int ermfuse_dirbuf_fits(const ermfuse_dirbuf *buffer, size_t name_length);

/// Entries the buffer can hold at most (for sizing the listing a handler fetches).
size_t ermfuse_dirbuf_capacity_hint(const ermfuse_dirbuf *buffer);

// MARK: Process helpers (mount commands)

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that write the signal's number into
/// a pipe (the self-pipe trick: whichever thread the kernel picks, the handler only does
/// an async-signal-safe write). Returns 0 or an errno.
int ermfuse_termination_signals_install(void);

/// Waits until a termination signal arrived (or ermfuse_post_termination was called) and
/// returns its number.
int ermfuse_wait_termination_signal(void);

/// Wakes ermfuse_wait_termination_signal as if `signal` had arrived.
void ermfuse_post_termination(int signal);

/// `posix_spawn` of `path` with `argv` (NULL-terminated) in a new session
/// (POSIX_SPAWN_SETSID: no controlling terminal, not killed with the caller's process
/// group), standard input from /dev/null, standard output and error into `output_fd`.
/// Returns 0 and the child's pid, or an errno.
int ermfuse_spawn_in_new_session(const char *path, char *const argv[], int output_fd, pid_t *pid);

/// Bytes malloc has handed out and not got back (`mallinfo2().uordblks + hblkhd`), for
/// the daemon's statistics.
size_t ermfuse_heap_in_use(void);

/// `malloc_trim(0)`: gives free heap pages back to the kernel. Returns 1 if some were.
int ermfuse_heap_trim(void);

/// `getxattr(path, name, buffer, size)`: the value's length, or -1 with errno set
/// (Swift's Glibc module lacks sys/xattr.h).
ssize_t ermfuse_getxattr(const char *path, const char *name, void *buffer, size_t size);

/// Lazy unmount of a FUSE mount whose daemon may be gone: umount2(MNT_DETACH) as root,
/// otherwise `fusermount3 -u -z`. Returns 0 or an errno (EINVAL: not a mount point,
/// ENOENT: no fusermount3 for a non-root caller).
int ermfuse_unmount_lazy(const char *mountpoint);

#ifdef __cplusplus
}
#endif

#endif
