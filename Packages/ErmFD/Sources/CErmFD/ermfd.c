#define _GNU_SOURCE
#include "ermfd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

_Static_assert(ERMFD_MFD_CLOEXEC == MFD_CLOEXEC, "MFD_CLOEXEC");
_Static_assert(ERMFD_MFD_ALLOW_SEALING == MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING");
#ifdef MFD_NOEXEC_SEAL
_Static_assert(ERMFD_MFD_NOEXEC_SEAL == MFD_NOEXEC_SEAL, "MFD_NOEXEC_SEAL");
_Static_assert(ERMFD_MFD_EXEC == MFD_EXEC, "MFD_EXEC");
#endif
_Static_assert(ERMFD_SEAL_SEAL == F_SEAL_SEAL, "F_SEAL_SEAL");
_Static_assert(ERMFD_SEAL_SHRINK == F_SEAL_SHRINK, "F_SEAL_SHRINK");
_Static_assert(ERMFD_SEAL_GROW == F_SEAL_GROW, "F_SEAL_GROW");
_Static_assert(ERMFD_SEAL_WRITE == F_SEAL_WRITE, "F_SEAL_WRITE");
#ifdef F_SEAL_FUTURE_WRITE
_Static_assert(ERMFD_SEAL_FUTURE_WRITE == F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE");
#endif

int ermfd_memfd_create(const char *name, unsigned flags) { return memfd_create(name, flags); }

int ermfd_add_seals(int fd, unsigned seals) { return fcntl(fd, F_ADD_SEALS, seals); }

int ermfd_get_seals(int fd) { return fcntl(fd, F_GET_SEALS); }

void *ermfd_map_shared(int fd, size_t length, int populate) {
  void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0),
                 fd, 0);
  return p == MAP_FAILED ? NULL : p;
}

int ermfd_fexecve(int fd, char *const argv[], char *const envp[]) { return fexecve(fd, argv, envp); }

static void write_errno_and_exit(int pipe_fd, int error) {
  // Only async-signal-safe calls between fork and exec.
  while (write(pipe_fd, &error, sizeof error) < 0 && errno == EINTR) {
  }
  _exit(127);
}

int ermfd_spawn_fd(int fd, char *const argv[], char *const envp[], int keep_fd_open,
                 int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid_out) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  // Every signal blocked across fork, so none of the caller's handlers runs in the child
  // before it has put them back to default (as posix_spawn does).
  sigset_t all, caller_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &caller_mask);
  pid_t pid = fork();
  if (pid < 0) {
    int error = errno;
    pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
    close(report[0]);
    close(report[1]);
    return error;
  }
  if (pid == 0) {
    close(report[0]);
    // Caught signals back to their default (exec would do it too, but only at exec);
    // ignored ones stay ignored, as across any exec. Then no signal blocked: the mask of
    // the thread that called spawn (Dispatch and Swift concurrency threads block most
    // signals) would otherwise outlive exec and make the program deaf to SIGTERM/SIGINT.
    for (int signal = 1; signal < NSIG; signal++) {
      struct sigaction action;
      if (sigaction(signal, NULL, &action) != 0) continue;  // SIGKILL, SIGSTOP, libc's own
      if (action.sa_handler == SIG_IGN || action.sa_handler == SIG_DFL) continue;
      memset(&action, 0, sizeof action);
      action.sa_handler = SIG_DFL;
      sigaction(signal, &action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    int sources[3] = {stdin_fd, stdout_fd, stderr_fd};
    // Move every source out of 0..2 first: a dup2 onto 1 must not replace the 1 that
    // another target asked for (stdout to a pipe, stderr to the caller's stdout).
    // The copies are close-on-exec, so the program never sees them.
    for (int target = 0; target < 3; target++) {
      if (sources[target] < 0 || sources[target] == target) continue;
      int moved = fcntl(sources[target], F_DUPFD_CLOEXEC, 3);
      if (moved < 0) write_errno_and_exit(report[1], errno);
      sources[target] = moved;
    }
    for (int target = 0; target < 3; target++) {
      if (sources[target] < 0) continue;
      if (sources[target] == target) {
        // dup2 onto itself keeps FD_CLOEXEC; clear it so the program inherits it.
        int flags = fcntl(target, F_GETFD);
        if (flags < 0 || fcntl(target, F_SETFD, flags & ~FD_CLOEXEC) != 0)
          write_errno_and_exit(report[1], errno);
      } else if (dup2(sources[target], target) < 0) {
        write_errno_and_exit(report[1], errno);
      }
    }
    if (keep_fd_open) {
      int flags = fcntl(fd, F_GETFD);
      if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
        write_errno_and_exit(report[1], errno);
    }
    fexecve(fd, argv, envp);
    write_errno_and_exit(report[1], errno);
  }
  pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
  close(report[1]);
  int child_error = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_error, sizeof child_error);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == (ssize_t)sizeof child_error) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return child_error;
  }
  *pid_out = pid;
  return 0;
}

int ermfd_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ermfd_wait(pid_t pid, int *status_out) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  *status_out = status;
  return 0;
}

int ermfd_status_exited(int status) { return WIFEXITED(status); }
int ermfd_status_exit_code(int status) { return WEXITSTATUS(status); }
int ermfd_status_signaled(int status) { return WIFSIGNALED(status); }
int ermfd_status_signal(int status) { return WTERMSIG(status); }

static int fill_address(struct sockaddr_un *address, const char *path) {
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  size_t length = strlen(path);
  if (length == 0) {
    errno = EINVAL;
    return -1;
  }
  if (length >= sizeof address->sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(address->sun_path, path, length);
  return 0;
}

/// 1 when `path` is a socket file nobody listens on (a connect is refused) or is gone.
static int is_stale_socket(const char *path, const struct sockaddr_un *address) {
  struct stat info;
  if (lstat(path, &info) != 0) return errno == ENOENT;
  if (!S_ISSOCK(info.st_mode)) return 0;
  // Non-blocking: a live server with a full backlog answers EAGAIN instead of stalling us.
  int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (probe < 0) return 0;
  int rc = connect(probe, (const struct sockaddr *)address, sizeof *address);
  int error = errno;
  close(probe);
  return rc != 0 && error == ECONNREFUSED;
}

/// Records the identity of the socket file just bound at `path` and gives it exactly
/// `mode`, working on an O_PATH|O_NOFOLLOW descriptor: a symbolic link swapped in since
/// bind is never followed, and another file is never changed.
static int claim_socket_file(const char *path, unsigned mode, uint64_t *device, uint64_t *inode) {
  int file = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (file < 0) return -1;
  struct stat info;
  if (fstat(file, &info) != 0) goto fail;
  if (!S_ISSOCK(info.st_mode) || info.st_uid != geteuid()) {
    errno = EEXIST;
    goto fail;
  }
  if ((info.st_mode & 07777) != (mode & 07777)) {
    // The umask narrowed it at bind. chmod through /proc/self/fd reaches this very inode.
    char proc_path[64];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", file);
    if (chmod(proc_path, mode) != 0) goto fail;
  }
  if (device) *device = (uint64_t)info.st_dev;
  if (inode) *inode = (uint64_t)info.st_ino;
  close(file);
  return 0;
fail : {
  int error = errno;
  close(file);
  errno = error;
  return -1;
}
}

int ermfd_unix_listen(const char *path, unsigned mode, int backlog, int replace_stale,
                      uint64_t *device_out, uint64_t *inode_out) {
  struct sockaddr_un address;
  if (fill_address(&address, path) != 0) return -1;
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  // The socket inode's mode (less the umask) becomes the file's mode at bind.
  if (fchmod(sock, mode) != 0) goto fail;
  int rc = bind(sock, (struct sockaddr *)&address, sizeof address);
  if (rc != 0 && errno == EADDRINUSE && replace_stale && is_stale_socket(path, &address)) {
    // Between the refused connect and this unlink another server may bind there; the
    // window is a few system calls, and only servers started with replace_stale race in it.
    if (unlink(path) != 0 && errno != ENOENT) goto fail;
    rc = bind(sock, (struct sockaddr *)&address, sizeof address);
  }
  if (rc != 0) goto fail;
  uint64_t device = 0, inode = 0;
  if (claim_socket_file(path, mode, &device, &inode) != 0) goto fail_bound;
  if (listen(sock, backlog) != 0) {
    int error = errno;
    ermfd_unlink_if_same(path, device, inode);
    close(sock);
    errno = error;
    return -1;
  }
  if (device_out) *device_out = device;
  if (inode_out) *inode_out = inode;
  return sock;
fail_bound : {
  // What is at the path is not (or no longer) certainly ours: leave it.
  int error = errno;
  close(sock);
  errno = error;
  return -1;
}
fail : {
  int error = errno;
  close(sock);
  errno = error;
  return -1;
}
}

int ermfd_unlink_if_same(const char *path, uint64_t device, uint64_t inode) {
  struct stat info;
  if (lstat(path, &info) != 0) return -1;
  if ((uint64_t)info.st_dev != device || (uint64_t)info.st_ino != inode) {
    errno = ESTALE;
    return -1;
  }
  return unlink(path);
}

void ermfd_unix_close_after_replies(int sock) {
  shutdown(sock, SHUT_RDWR);
  // After shutdown nothing new can arrive, so this ends (at the first empty message,
  // which only a peer that sends empty messages would regret). No control buffer: the
  // kernel releases any descriptors the discarded messages carry.
  char scratch[64];
  while (recv(sock, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC) > 0) {
  }
  close(sock);
}

int ermfd_unix_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

int ermfd_unix_connect(const char *path) {
  struct sockaddr_un address;
  if (fill_address(&address, path) != 0) return -1;
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  int rc;
  do {
    rc = connect(sock, (struct sockaddr *)&address, sizeof address);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int error = errno;
    close(sock);
    errno = error;
    return -1;
  }
  return sock;
}

int ermfd_socket_set_timeouts(int sock, int milliseconds) {
  struct timeval tv = {.tv_sec = milliseconds / 1000, .tv_usec = (milliseconds % 1000) * 1000};
  if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return -1;
  return setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int ermfd_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid) {
  struct ucred cred;
  socklen_t length = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return -1;
  *pid = cred.pid;
  *uid = cred.uid;
  *gid = cred.gid;
  return 0;
}

ssize_t ermfd_send_message(int sock, const void *bytes, size_t length, int fd) {
  struct iovec iov = {.iov_base = (void *)bytes, .iov_len = length};
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

ssize_t ermfd_receive_message(int sock, void *buffer, size_t capacity, int *fd_out,
                            int *truncated_out) {
  *fd_out = -1;
  *truncated_out = 0;
  struct iovec iov = {.iov_base = buffer, .iov_len = capacity};
  // Room for several descriptors, so a peer sending more than one cannot make us lose
  // track of (and leak) the extras.
  union {
    char buffer[CMSG_SPACE(16 * sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1,
                           .msg_control = control.buffer,
                           .msg_controllen = sizeof control.buffer};
  ssize_t n;
  do {
    n = recvmsg(sock, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h != NULL; h = CMSG_NXTHDR(&message, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, CMSG_DATA(h) + i * sizeof(int), sizeof received);
      if (*fd_out < 0)
        *fd_out = received;
      else
        close(received);
    }
  }
  if (message.msg_flags & MSG_TRUNC) *truncated_out = 1;
  return n;
}
