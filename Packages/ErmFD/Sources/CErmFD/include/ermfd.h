// ErmFD's C shim: memfd, seals, fexecve, UNIX-socket descriptor passing and peer
// credentials. Swift's Glibc module lacks these (they need _GNU_SOURCE), so this header
// exposes them as plain C functions and constants; ermfd_fd.c includes the system headers.
// Every function returns -1 (or a negative value) with errno set on failure unless it
// says otherwise.
#ifndef ERMFD_H
#define ERMFD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

// Values equal the kernel's MFD_* and F_SEAL_* (checked at compile time in ermfd_fd.c;
// MFD_EXEC and MFD_NOEXEC_SEAL are newer than some C libraries' headers).
#define ERMFD_MFD_CLOEXEC 0x0001U
#define ERMFD_MFD_ALLOW_SEALING 0x0002U
#define ERMFD_MFD_NOEXEC_SEAL 0x0008U
#define ERMFD_MFD_EXEC 0x0010U

#define ERMFD_SEAL_SEAL 0x0001U
#define ERMFD_SEAL_SHRINK 0x0002U
#define ERMFD_SEAL_GROW 0x0004U
#define ERMFD_SEAL_WRITE 0x0008U
#define ERMFD_SEAL_FUTURE_WRITE 0x0010U
#define ERMFD_SEAL_EXEC 0x0020U

/// `memfd_create(name, flags)`.
int ermfd_memfd_create(const char *name, unsigned flags);

/// `fcntl(fd, F_ADD_SEALS, seals)`: 0 or -1.
int ermfd_add_seals(int fd, unsigned seals);

/// `fcntl(fd, F_GET_SEALS)`: the seals or -1.
int ermfd_get_seals(int fd);

/// `mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_SHARED|(populate ? MAP_POPULATE : 0), fd, 0)`.
/// Returns the mapping or NULL (never MAP_FAILED) with errno set.
void *ermfd_map_shared(int fd, size_t length, int populate);

/// `fexecve(fd, argv, envp)`: only returns on failure (-1).
int ermfd_fexecve(int fd, char *const argv[], char *const envp[]);

/// Forks; the child moves `stdin_fd`/`stdout_fd`/`stderr_fd` (each -1 to inherit) onto
/// 0/1/2 and calls `fexecve(fd, argv, envp)`. `keep_fd_open` clears `fd`'s close-on-exec
/// flag in the child first (a `#!` script's interpreter opens /dev/fd/N after exec). The
/// program starts with no signal blocked and every caught signal at its default (ignored
/// ones stay ignored), whatever the calling thread blocks. The child does only async-signal-safe work,
/// so this is safe in a multithreaded process. A failed fexecve in the child is reported
/// back through a close-on-exec pipe: the call then returns that errno (the child has
/// been reaped). Returns 0 and stores the child's pid, or an errno value.
int ermfd_spawn_fd(int fd, char *const argv[], char *const envp[], int keep_fd_open,
                 int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out);

/// `pipe2(fds, O_CLOEXEC)`: 0 or -1.
int ermfd_pipe(int fds[2]);

/// `waitpid(pid, &status, 0)` retried on EINTR. Returns 0 and the raw wait status, or -1.
int ermfd_wait(pid_t pid, int *status_out);
/// `WIFEXITED`/`WEXITSTATUS`/`WIFSIGNALED`/`WTERMSIG` on a raw wait status.
int ermfd_status_exited(int status);
int ermfd_status_exit_code(int status);
int ermfd_status_signaled(int status);
int ermfd_status_signal(int status);

/// The listening socket of a server at `path`: `socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)`,
/// `fchmod(mode)` before `bind` (so the file never exists with a wider mode), `bind`,
/// `listen(backlog)`. When the umask narrowed the file's mode, the file just bound is
/// `chmod`ed through an `O_PATH|O_NOFOLLOW` descriptor of it (never a symbolic link's
/// target). `*device_out`/`*inode_out` (may be NULL) receive the socket file's identity
/// for `ermfd_unlink_if_same`. With `replace_stale`, a socket file nobody listens on
/// (a connect to it fails with ECONNREFUSED) is removed and `bind` tried once more; a
/// live socket or any other file is never removed.
/// Errors: EADDRINUSE (the path exists), ENAMETOOLONG (it does not fit in sockaddr_un),
/// EINVAL (empty), EEXIST (the path changed between bind and the check of what was
/// bound), and those of socket, bind, listen and chmod.
int ermfd_unix_listen(const char *path, unsigned mode, int backlog, int replace_stale,
                      uint64_t *device_out, uint64_t *inode_out);

/// `unlink(path)` only while `path` is still the file `device`/`inode` (by `lstat`), so
/// a server never removes a socket file another server has put there since.
/// 0, or -1 with errno: ESTALE when `path` is another file now, or lstat's/unlink's.
int ermfd_unlink_if_same(const char *path, uint64_t device, uint64_t inode);

/// Ends a connection without losing the replies already sent on it: `shutdown(SHUT_RDWR)`
/// (the peer's later sends fail with EPIPE), discards what the peer had sent (and any
/// descriptors in it), then `close`. A close with unread requests would make the peer's
/// next recv fail with ECONNRESET before it reads those replies.
void ermfd_unix_close_after_replies(int sock);

/// `accept4(listener, NULL, NULL, SOCK_CLOEXEC)`.
int ermfd_unix_accept(int listener);

/// `socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC)` connected to `path`.
int ermfd_unix_connect(const char *path);

/// `setsockopt(SO_RCVTIMEO and SO_SNDTIMEO)` to `milliseconds` (0 disables). 0 or -1.
int ermfd_socket_set_timeouts(int sock, int milliseconds);

/// `getsockopt(sock, SOL_SOCKET, SO_PEERCRED)`: 0 or -1.
int ermfd_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid);

/// `sendmsg` of one message holding `length` bytes of `bytes`, with `fd` attached as
/// SCM_RIGHTS when `fd >= 0`. MSG_NOSIGNAL: a closed peer gives EPIPE, not SIGPIPE.
/// Returns bytes sent or -1.
ssize_t ermfd_send_message(int sock, const void *bytes, size_t length, int fd);

/// `recvmsg` of one message into `buffer` (`capacity` bytes) with MSG_CMSG_CLOEXEC.
/// `*fd_out` receives an attached descriptor or -1 (any extra descriptors are closed, so
/// nothing leaks); `*truncated_out` is 1 when the message was longer than `capacity`
/// (MSG_TRUNC: the rest is discarded). Returns the message's bytes stored (0 at orderly
/// shutdown) or -1.
ssize_t ermfd_receive_message(int sock, void *buffer, size_t capacity, int *fd_out,
                            int *truncated_out);

#ifdef __cplusplus
}
#endif

#endif
