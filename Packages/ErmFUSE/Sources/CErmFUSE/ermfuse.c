// ErmFUSE's C shim: the only file that includes libfuse's headers. Each lowlevel handler
// asks the Swift table for an answer and sends exactly one reply.
#define _GNU_SOURCE
#define FUSE_USE_VERSION 314

#include "ermfuse.h"

#include <fuse3/fuse_lowlevel.h>

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

// FUSE opcodes (linux/fuse.h), for the request counters.
enum {
  OP_LOOKUP = 1, OP_FORGET = 2, OP_GETATTR = 3, OP_SETATTR = 4, OP_READLINK = 5,
  OP_SYMLINK = 6, OP_MKNOD = 8, OP_MKDIR = 9, OP_UNLINK = 10, OP_RMDIR = 11, OP_RENAME = 12,
  OP_LINK = 13, OP_OPEN = 14, OP_READ = 15, OP_WRITE = 16, OP_STATFS = 17, OP_RELEASE = 18,
  OP_FSYNC = 20, OP_SETXATTR = 21, OP_GETXATTR = 22, OP_LISTXATTR = 23, OP_REMOVEXATTR = 24,
  OP_FLUSH = 25, OP_INIT = 26, OP_OPENDIR = 27, OP_READDIR = 28, OP_RELEASEDIR = 29,
  OP_CREATE = 35, OP_BATCH_FORGET = 42, OP_FALLOCATE = 43, OP_READDIRPLUS = 44,
  OP_RENAME2 = 45, OP_LSEEK = 46, OP_COPY_FILE_RANGE = 47,
  OP_LIMIT = 64,
};

struct ermfuse_session {
  struct fuse_session *se;
  ermfuse_config config;
  ermfuse_operations ops;
  void *context;
  /// -o max_read=N, which init() must repeat in conn->max_read (EPROTO otherwise).
  unsigned max_read_option;
  pthread_mutex_t lock;
  pthread_cond_t loop_changed;
  pthread_t loop_thread;
  int loop_running;
  int loop_started;    // ermfuse_session_start created the loop thread
  int loop_finished;   // ... and it has returned loop_result
  int loop_result;
  int initialized;
  // Queued inode invalidations and the thread that sends them.
  pthread_t invalidator;
  int invalidator_started;
  int invalidator_stopping;
  uint64_t *invalid;
  size_t invalid_count, invalid_capacity;
  // Housekeeping thread only (trim_heap_after_frees): requests served at the last tick,
  // and at the last check of the heap.
  uint64_t served_at_last_tick, served_at_last_check;
  _Atomic uint64_t counts[OP_LIMIT];
};

struct ermfuse_dirbuf {
  fuse_req_t req;
  ermfuse_session *session;
  char *bytes;
  size_t size;
  size_t used;
  int plus;
};

static ermfuse_session *session_of(fuse_req_t req) { return fuse_req_userdata(req); }

static void count(ermfuse_session *s, int opcode) {
  atomic_fetch_add_explicit(&s->counts[opcode], 1, memory_order_relaxed);
}

// MARK: Per-thread buffers

// One growing buffer per worker thread for read replies and xattr values: a request
// never allocates, and the buffer goes with its thread (libfuse may retire idle ones).
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;

struct thread_buffer {
  void *bytes;
  size_t size;
};

static void free_thread_buffer(void *p) {
  struct thread_buffer *b = p;
  free(b->bytes);
  free(b);
}

static void make_buffer_key(void) { pthread_key_create(&buffer_key, free_thread_buffer); }

static void *thread_buffer(size_t size) {
  pthread_once(&buffer_once, make_buffer_key);
  struct thread_buffer *b = pthread_getspecific(buffer_key);
  if (!b) {
    b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    pthread_setspecific(buffer_key, b);
  }
  if (b->size < size) {
    void *grown = realloc(b->bytes, size);
    if (!grown) return NULL;
    b->bytes = grown;
    b->size = size;
  }
  return b->bytes;
}

// MARK: Conversions

static void stat_from(struct stat *st, const ermfuse_attr *a) {
  memset(st, 0, sizeof(*st));
  st->st_ino = a->ino;
  st->st_mode = a->mode;
  st->st_nlink = a->nlink;
  st->st_uid = a->uid;
  st->st_gid = a->gid;
  st->st_rdev = a->rdev;
  st->st_size = a->size;
  st->st_blocks = a->blocks;
  st->st_blksize = 4096;  // tmpfs's answer; the kernel derives i_blkbits from it
  st->st_atim.tv_sec = a->atime_sec;
  st->st_atim.tv_nsec = a->atime_nsec;
  st->st_mtim.tv_sec = a->mtime_sec;
  st->st_mtim.tv_nsec = a->mtime_nsec;
  st->st_ctim.tv_sec = a->ctime_sec;
  st->st_ctim.tv_nsec = a->ctime_nsec;
}

static void entry_from(struct fuse_entry_param *e, const ermfuse_session *s, const ermfuse_attr *a) {
  memset(e, 0, sizeof(*e));
  e->ino = a->ino;
  e->generation = 0;  // ErmFS never reuses an inode number
  stat_from(&e->attr, a);
  e->attr_timeout = s->config.attr_timeout;
  e->entry_timeout = s->config.entry_timeout;
}

static ermfuse_caller caller_of(fuse_req_t req) {
  const struct fuse_ctx *ctx = fuse_req_ctx(req);
  ermfuse_caller c = {.uid = ctx->uid, .gid = ctx->gid, .pid = ctx->pid, .umask = ctx->umask};
  return c;
}

/// Replies with a new entry. The handler added a lookup; if the kernel no longer waits
/// for the reply (the syscall was interrupted), that lookup is taken back.
static void reply_entry(fuse_req_t req, int error, const ermfuse_attr *attr) {
  ermfuse_session *s = session_of(req);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  struct fuse_entry_param e;
  entry_from(&e, s, attr);
  if (fuse_reply_entry(req, &e) == -ENOENT) s->ops.forget(s->context, attr->ino, 1);
}

// MARK: Handlers

static void ll_init(void *userdata, struct fuse_conn_info *conn) {
  ermfuse_session *s = userdata;
  count(s, OP_INIT);
  const ermfuse_config *c = &s->config;
  if (c->writeback_cache && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
    conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  const unsigned splice = FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ;
  if (c->splice)
    conn->want |= conn->capable & splice;
  else
    conn->want &= ~splice;
  if (c->readdirplus == 1) conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
  // Let the kernel clear setuid/setgid on write, truncate and chown (it sends a
  // setattr): ErmCore applies what setattr asks and nothing more.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
  // Symbolic link targets never change in ErmFS: the kernel may cache them.
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (c->max_write) conn->max_write = c->max_write;
  if (c->max_readahead && c->max_readahead < conn->max_readahead) conn->max_readahead = c->max_readahead;
  if (c->max_background) conn->max_background = c->max_background;
  conn->max_read = s->max_read_option;
  conn->time_gran = 1;
  if (s->ops.initialized) {
    ermfuse_connection summary = {
        .proto_major = conn->proto_major, .proto_minor = conn->proto_minor,
        .max_write = conn->max_write, .max_read = conn->max_read,
        .max_readahead = conn->max_readahead, .max_background = conn->max_background,
        .congestion_threshold = conn->congestion_threshold, .capable = conn->capable,
        .want = conn->want, .time_gran = conn->time_gran};
    s->ops.initialized(s->context, &summary);
  }
  pthread_mutex_lock(&s->lock);
  s->initialized = 1;
  pthread_cond_broadcast(&s->loop_changed);
  pthread_mutex_unlock(&s->lock);
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  ermfuse_session *s = session_of(req);
  count(s, OP_LOOKUP);
  ermfuse_attr attr;
  int error = s->ops.lookup(s->context, parent, name, &attr);
  if (error == ENOENT && s->config.negative_timeout > 0) {
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = 0;  // a negative entry: "no such name", cached for entry_timeout
    e.entry_timeout = s->config.negative_timeout;
    fuse_reply_entry(req, &e);
    return;
  }
  reply_entry(req, error, &attr);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  ermfuse_session *s = session_of(req);
  count(s, OP_FORGET);
  s->ops.forget(s->context, ino, nlookup);
  fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t n, struct fuse_forget_data *forgets) {
  ermfuse_session *s = session_of(req);
  count(s, OP_BATCH_FORGET);
  for (size_t i = 0; i < n; i++) s->ops.forget(s->context, forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  (void)fi;
  ermfuse_session *s = session_of(req);
  count(s, OP_GETATTR);
  ermfuse_attr attr;
  int error = s->ops.getattr(s->context, ino, &attr);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  struct stat st;
  stat_from(&st, &attr);
  fuse_reply_attr(req, &st, s->config.attr_timeout);
}

static void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *st, int valid,
                       struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_SETATTR);
  ermfuse_setattr changes = {
      .valid = valid, .mode = st->st_mode, .uid = st->st_uid, .gid = st->st_gid,
      .size = st->st_size, .atime_sec = st->st_atim.tv_sec, .atime_nsec = st->st_atim.tv_nsec,
      .mtime_sec = st->st_mtim.tv_sec, .mtime_nsec = st->st_mtim.tv_nsec};
  ermfuse_caller caller = caller_of(req);
  ermfuse_attr attr;
  int error = s->ops.setattr(s->context, &caller, ino, &changes, fi ? fi->fh : UINT64_MAX, &attr);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  struct stat out;
  stat_from(&out, &attr);
  fuse_reply_attr(req, &out, s->config.attr_timeout);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino) {
  ermfuse_session *s = session_of(req);
  count(s, OP_READLINK);
  char target[4097];
  ssize_t n = s->ops.readlink(s->context, ino, target, sizeof(target) - 1);
  if (n < 0) {
    fuse_reply_err(req, (int)-n);
    return;
  }
  if ((size_t)n >= sizeof(target)) {
    fuse_reply_err(req, ENAMETOOLONG);
    return;
  }
  target[n] = 0;
  fuse_reply_readlink(req, target);
}

static void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  ermfuse_session *s = session_of(req);
  count(s, OP_MKNOD);
  ermfuse_caller caller = caller_of(req);
  ermfuse_attr attr;
  int error = s->ops.mknod(s->context, &caller, parent, name, mode, rdev, &attr);
  reply_entry(req, error, &attr);
}

static void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  ermfuse_session *s = session_of(req);
  count(s, OP_MKDIR);
  ermfuse_caller caller = caller_of(req);
  ermfuse_attr attr;
  int error = s->ops.mkdir(s->context, &caller, parent, name, mode, &attr);
  reply_entry(req, error, &attr);
}

static void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  ermfuse_session *s = session_of(req);
  count(s, OP_UNLINK);
  fuse_reply_err(req, s->ops.unlink(s->context, parent, name));
}

static void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  ermfuse_session *s = session_of(req);
  count(s, OP_RMDIR);
  fuse_reply_err(req, s->ops.rmdir(s->context, parent, name));
}

static void ll_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  ermfuse_session *s = session_of(req);
  count(s, OP_SYMLINK);
  ermfuse_caller caller = caller_of(req);
  ermfuse_attr attr;
  int error = s->ops.symlink(s->context, &caller, link, parent, name, &attr);
  reply_entry(req, error, &attr);
}

static void ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags) {
  ermfuse_session *s = session_of(req);
  count(s, flags ? OP_RENAME2 : OP_RENAME);
  fuse_reply_err(req, s->ops.rename(s->context, parent, name, newparent, newname, flags));
}

static void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  ermfuse_session *s = session_of(req);
  count(s, OP_LINK);
  ermfuse_attr attr;
  int error = s->ops.link(s->context, ino, newparent, newname, &attr);
  reply_entry(req, error, &attr);
}

/// Sends an open reply; if the opener is gone (interrupted), the handle is released.
static void reply_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int directory) {
  ermfuse_session *s = session_of(req);
  if (fuse_reply_open(req, fi) == -ENOENT) {
    if (directory)
      s->ops.releasedir(s->context, ino, fi->fh);
    else
      s->ops.release(s->context, ino, fi->fh);
  }
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_OPEN);
  uint64_t fh = 0;
  int error = s->ops.open(s->context, ino, fi->flags, &fh);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = fh;
  fi->keep_cache = s->config.keep_cache ? 1 : 0;
  reply_open(req, ino, fi, 0);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_READ);
  void *buffer = thread_buffer(size ? size : 1);
  if (!buffer) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t n = s->ops.read(s->context, ino, fi->fh, buffer, size, off);
  if (n < 0) {
    fuse_reply_err(req, (int)-n);
    return;
  }
  if (s->config.splice) {
    struct fuse_bufvec bv = FUSE_BUFVEC_INIT((size_t)n);
    bv.buf[0].mem = buffer;
    fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
  } else {
    fuse_reply_buf(req, buffer, (size_t)n);
  }
}

static void ll_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_WRITE);
  ssize_t n = s->ops.write(s->context, ino, fi->fh, buf, size, off);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else
    fuse_reply_write(req, (size_t)n);
}

// Registered only with config.splice (its presence makes libfuse ask for SPLICE_READ):
// the data may arrive in a pipe, so it is copied into the thread's buffer first.
static void ll_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
                         struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_WRITE);
  size_t size = fuse_buf_size(in);
  const void *bytes;
  if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
    bytes = (const char *)in->buf[0].mem + in->off;
  } else {
    void *buffer = thread_buffer(size ? size : 1);
    if (!buffer) {
      fuse_reply_err(req, ENOMEM);
      return;
    }
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(size);
    out.buf[0].mem = buffer;
    ssize_t copied = fuse_buf_copy(&out, in, 0);
    if (copied < 0) {
      fuse_reply_err(req, (int)-copied);
      return;
    }
    size = (size_t)copied;
    bytes = buffer;
  }
  ssize_t n = s->ops.write(s->context, ino, fi->fh, bytes, size, off);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else
    fuse_reply_write(req, (size_t)n);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_RELEASE);
  fuse_reply_err(req, s->ops.release(s->context, ino, fi->fh));
}

static void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_FSYNC);
  fuse_reply_err(req, s->ops.fsync(s->context, ino, fi->fh, datasync));
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_OPENDIR);
  uint64_t fh = 0;
  int error = s->ops.opendir(s->context, ino, fi->flags, &fh);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = fh;
  reply_open(req, ino, fi, 1);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, int plus) {
  ermfuse_session *s = session_of(req);
  count(s, plus ? OP_READDIRPLUS : OP_READDIR);
  struct ermfuse_dirbuf b = {.req = req, .session = s, .bytes = malloc(size ? size : 1),
                             .size = size, .used = 0, .plus = plus};
  if (!b.bytes) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  int error = s->ops.readdir(s->context, ino, fi->fh, off, plus, &b);
  // Entries already added carry lookups (readdirplus): send them even after an error.
  if (error && b.used == 0)
    fuse_reply_err(req, error);
  else
    fuse_reply_buf(req, b.bytes, b.used);
  free(b.bytes);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  do_readdir(req, ino, size, off, fi, 0);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi) {
  do_readdir(req, ino, size, off, fi, 1);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_RELEASEDIR);
  fuse_reply_err(req, s->ops.releasedir(s->context, ino, fi->fh));
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino) {
  ermfuse_session *s = session_of(req);
  count(s, OP_STATFS);
  ermfuse_statfs out;
  memset(&out, 0, sizeof(out));
  int error = s->ops.statfs(s->context, ino, &out);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  struct statvfs st;
  memset(&st, 0, sizeof(st));
  st.f_bsize = out.block_size;
  st.f_frsize = out.block_size;
  st.f_blocks = out.blocks;
  st.f_bfree = out.blocks_free;
  st.f_bavail = out.blocks_free;
  st.f_files = out.files;
  st.f_ffree = out.files_free;
  st.f_favail = out.files_free;
  st.f_namemax = out.name_max;
  fuse_reply_statfs(req, &st);
}

static void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                        size_t size, int flags) {
  ermfuse_session *s = session_of(req);
  count(s, OP_SETXATTR);
  ermfuse_caller caller = caller_of(req);
  fuse_reply_err(req, s->ops.setxattr(s->context, &caller, ino, name, value, size, flags));
}

static void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  ermfuse_session *s = session_of(req);
  count(s, OP_GETXATTR);
  ermfuse_caller caller = caller_of(req);
  void *buffer = size ? thread_buffer(size) : NULL;
  if (size && !buffer) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t n = s->ops.getxattr(s->context, &caller, ino, name, buffer, size);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else if (size == 0)
    fuse_reply_xattr(req, (size_t)n);
  else
    fuse_reply_buf(req, buffer, (size_t)n);
}

static void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  ermfuse_session *s = session_of(req);
  count(s, OP_LISTXATTR);
  ermfuse_caller caller = caller_of(req);
  void *buffer = size ? thread_buffer(size) : NULL;
  if (size && !buffer) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t n = s->ops.listxattr(s->context, &caller, ino, buffer, size);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else if (size == 0)
    fuse_reply_xattr(req, (size_t)n);
  else
    fuse_reply_buf(req, buffer, (size_t)n);
}

static void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  ermfuse_session *s = session_of(req);
  count(s, OP_REMOVEXATTR);
  ermfuse_caller caller = caller_of(req);
  fuse_reply_err(req, s->ops.removexattr(s->context, &caller, ino, name));
}

static void ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_CREATE);
  ermfuse_caller caller = caller_of(req);
  ermfuse_attr attr;
  uint64_t fh = 0;
  int error = s->ops.create(s->context, &caller, parent, name, mode, fi->flags, &fh, &attr);
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = fh;
  fi->keep_cache = s->config.keep_cache ? 1 : 0;
  struct fuse_entry_param e;
  entry_from(&e, s, &attr);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    s->ops.release(s->context, attr.ino, fh);
    s->ops.forget(s->context, attr.ino, 1);
  }
}

static void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                         struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_FALLOCATE);
  fuse_reply_err(req, s->ops.fallocate(s->context, ino, fi->fh, mode, offset, length));
}

static void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi) {
  ermfuse_session *s = session_of(req);
  count(s, OP_LSEEK);
  int64_t result = 0;
  int error = s->ops.lseek(s->context, ino, fi->fh, off, whence, &result);
  if (error)
    fuse_reply_err(req, error);
  else
    fuse_reply_lseek(req, result);
}

static void ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
                               struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
                               struct fuse_file_info *fi_out, size_t len, int flags) {
  ermfuse_session *s = session_of(req);
  count(s, OP_COPY_FILE_RANGE);
  ssize_t n = s->ops.copy_file_range(s->context, ino_in, fi_in->fh, off_in, ino_out, fi_out->fh,
                                     off_out, len, (uint32_t)flags);
  if (n < 0)
    fuse_reply_err(req, (int)-n);
  else
    fuse_reply_write(req, (size_t)n);
}

// MARK: Session

static unsigned max_read_in(const char *const *options, int n) {
  unsigned value = 0;
  for (int i = 0; i < n; i++) {
    const char *o = options[i];
    while (o && *o) {
      if (strncmp(o, "max_read=", 9) == 0) value = (unsigned)strtoul(o + 9, NULL, 10);
      o = strchr(o, ',');
      if (o) o++;
    }
  }
  return value;
}

/// Fixed malloc thresholds for the daemon (process-wide, set once). glibc raises both
/// thresholds each time a mapped chunk is freed (up to 32 and 64 MiB), after which a
/// thread arena keeps everything freed into its top chunk: malloc_trim returns the free
/// chunks inside an arena but not the top of a thread arena, so after 100,000 files were
/// created and deleted a worker's arena stayed 15 MiB resident with 0.5 MiB in use. Set
/// explicitly, the thresholds stay put: blocks from 256 KiB up are mapped on their own
/// (the kernel-request buffers, the big hash tables) and an arena's top beyond 1 MiB is
/// given back on free.
static void set_malloc_thresholds(void) {
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
}

static void fix_malloc_thresholds(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, set_malloc_thresholds);
}

ermfuse_session *ermfuse_session_create(const char *const *options, int n,
                                        const ermfuse_config *config,
                                        const ermfuse_operations *operations, void *context) {
  ermfuse_session *s = calloc(1, sizeof(*s));
  if (!s) {
    errno = ENOMEM;
    return NULL;
  }
  s->config = *config;
  s->ops = *operations;
  s->context = context;
  s->max_read_option = max_read_in(options, n);
  fix_malloc_thresholds();
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->loop_changed, NULL);

  struct fuse_lowlevel_ops ll;
  memset(&ll, 0, sizeof(ll));
  ll.init = ll_init;
  ll.lookup = ll_lookup;
  ll.forget = ll_forget;
  ll.forget_multi = ll_forget_multi;
  ll.getattr = ll_getattr;
  ll.setattr = ll_setattr;
  ll.readlink = ll_readlink;
  ll.mknod = ll_mknod;
  ll.mkdir = ll_mkdir;
  ll.unlink = ll_unlink;
  ll.rmdir = ll_rmdir;
  ll.symlink = ll_symlink;
  ll.rename = ll_rename;
  ll.link = ll_link;
  ll.open = ll_open;
  ll.read = ll_read;
  if (config->splice)
    ll.write_buf = ll_write_buf;
  else
    ll.write = ll_write;
  // No flush: ErmFS has nothing to do at each close(2) (the data are in it; compression
  // belongs to the last release), and ENOSYS once makes the kernel stop sending FLUSH,
  // one round trip less per close. The kernel still writes dirty pages back at close.
  ll.release = ll_release;
  ll.fsync = ll_fsync;
  ll.opendir = ll_opendir;
  ll.readdir = ll_readdir;
  if (config->readdirplus) ll.readdirplus = ll_readdirplus;
  ll.releasedir = ll_releasedir;
  ll.statfs = ll_statfs;
  ll.setxattr = ll_setxattr;
  ll.getxattr = ll_getxattr;
  ll.listxattr = ll_listxattr;
  ll.removexattr = ll_removexattr;
  ll.create = ll_create;
  ll.fallocate = ll_fallocate;
  ll.lseek = ll_lseek;
  ll.copy_file_range = ll_copy_file_range;

  // argv for fuse_session_new: a program name, then "-o" and each option.
  char **argv = calloc((size_t)(2 * n + 2), sizeof(char *));
  if (!argv) {
    free(s);
    errno = ENOMEM;
    return NULL;
  }
  int argc = 0;
  argv[argc++] = (char *)"ermfs";
  for (int i = 0; i < n; i++) {
    argv[argc++] = (char *)"-o";
    argv[argc++] = (char *)options[i];
  }
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  s->se = fuse_session_new(&args, &ll, sizeof(ll), s);
  fuse_opt_free_args(&args);
  free(argv);
  if (!s->se) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->loop_changed);
    free(s);
    errno = EINVAL;
    return NULL;
  }
  return s;
}

int ermfuse_session_mount(ermfuse_session *s, const char *mountpoint) {
  errno = 0;
  if (fuse_session_mount(s->se, mountpoint) != 0) return errno ? errno : EIO;
  return 0;
}

static void wake_handler(int signal) { (void)signal; }

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

// SIGUSR2 interrupts the loop thread's sem_wait (never restarted after a handler), so
// the loop sees fuse_session_exited and returns.
static void install_wake_handler(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = wake_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGUSR2, &sa, NULL);
}

static int session_loop(ermfuse_session *s) {
  pthread_once(&wake_once, install_wake_handler);
  sigset_t wake;
  sigemptyset(&wake);
  sigaddset(&wake, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &wake, NULL);

  struct fuse_loop_config *lc = fuse_loop_cfg_create();
  if (!lc) return ENOMEM;
  fuse_loop_cfg_set_clone_fd(lc, s->config.clone_fd ? 1 : 0);
  fuse_loop_cfg_set_max_threads(lc, s->config.max_threads ? s->config.max_threads : 1);
  // libfuse's default (-1) never retires idle threads; it refuses -1 through the setter.
  if (s->config.max_idle_threads >= 0)
    fuse_loop_cfg_set_idle_threads(lc, (unsigned)s->config.max_idle_threads);

  pthread_mutex_lock(&s->lock);
  s->loop_thread = pthread_self();
  s->loop_running = 1;
  pthread_cond_broadcast(&s->loop_changed);
  pthread_mutex_unlock(&s->lock);

  int result = fuse_session_loop_mt(s->se, lc);

  pthread_mutex_lock(&s->lock);
  s->loop_running = 0;
  pthread_cond_broadcast(&s->loop_changed);
  pthread_mutex_unlock(&s->lock);
  fuse_loop_cfg_destroy(lc);
  if (result < 0) return -result;
  // A positive result is a signal number libfuse's own handlers recorded (none here).
  return result > 0 ? EINTR : 0;
}

static void *loop_thread_main(void *arg) {
  ermfuse_session *s = arg;
  int result = session_loop(s);
  pthread_mutex_lock(&s->lock);
  s->loop_finished = 1;
  s->loop_result = result;
  pthread_cond_broadcast(&s->loop_changed);
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/// How much freed-but-resident memory makes the housekeeping thread give heap back
/// (malloc_trim) once the daemon went idle: glibc's arenas keep freed memory otherwise,
/// so after many files were deleted the daemon would stay at its peak. "Freed but
/// resident" is the private resident memory (/proc/self/statm) minus the heap bytes in
/// use, in arenas and in chunks mapped on their own (mallinfo2), minus what the file
/// system maps outside the heap (its page allocator, from the quiet callback).
///
/// Checked once per burst: at the first housekeeping tick (one per second without
/// invalidations to send) that saw no request since the tick before, if requests came
/// since the last check. A busy daemon is left alone: mallinfo2 and malloc_trim walk the
/// arenas under their locks (about 22 and 45 ms on a heap fragmented into 200,000
/// chunks), and a trim in the middle of a burst returns little (pages still pinned by
/// chunks in use). Earlier rules missed bursts: a peak of the bytes in use sampled once
/// per second misses a burst that allocated and freed between two samples; glibc's own
/// free-byte count stays high after a trim; and baselines taken after a trim in the
/// middle of a burst hid the end of the burst.
#define TRIM_AFTER_FREED_BYTES ((size_t)8 << 20)

static uint64_t requests_served(ermfuse_session *s) {
  uint64_t total = 0;
  for (int op = 0; op < OP_LIMIT; op++)
    total += atomic_load_explicit(&s->counts[op], memory_order_relaxed);
  return total;
}

/// Resident pages not backed by a file (resident minus shared, /proc/self/statm), in bytes.
static size_t private_resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "re");
  if (!f) return 0;
  unsigned long size = 0, resident = 0, shared = 0;
  int fields = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
  fclose(f);
  if (fields != 3 || resident < shared) return 0;
  return (size_t)(resident - shared) * (size_t)sysconf(_SC_PAGESIZE);
}

static void trim_heap_after_frees(ermfuse_session *s, size_t mapped_elsewhere) {
  uint64_t served = requests_served(s);
  int idle = served == s->served_at_last_tick;
  s->served_at_last_tick = served;
  if (!idle || served == s->served_at_last_check) return;  // busy, or nothing new since
  s->served_at_last_check = served;
  struct mallinfo2 heap = mallinfo2();
  size_t resident = private_resident_bytes(), in_use = heap.uordblks + heap.hblkhd + mapped_elsewhere;
  if (resident > in_use && resident - in_use > TRIM_AFTER_FREED_BYTES) malloc_trim(0);
}

// The housekeeping thread: sends queued invalidations, and after each quiet second gives
// freed heap memory back to the kernel.
static void *invalidator_main(void *arg) {
  ermfuse_session *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (s->invalid_count == 0 && !s->invalidator_stopping) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += 1;
      if (pthread_cond_timedwait(&s->loop_changed, &s->lock, &until) == ETIMEDOUT) {
        pthread_mutex_unlock(&s->lock);
        size_t mapped = s->ops.quiet ? s->ops.quiet(s->context) : 0;  // frees retired memory
        trim_heap_after_frees(s, mapped);
        pthread_mutex_lock(&s->lock);
      }
    }
    if (s->invalid_count == 0) break;
    uint64_t ino = s->invalid[--s->invalid_count];
    pthread_mutex_unlock(&s->lock);
    fuse_lowlevel_notify_inval_inode(s->se, ino, 0, 0);
    pthread_mutex_lock(&s->lock);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/// A thread that never takes the termination signals (the process decides who does).
static int start_thread(pthread_t *thread, void *(*body)(void *), void *arg) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  int error = pthread_create(thread, NULL, body, arg);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return error;
}

int ermfuse_session_start(ermfuse_session *s) {
  pthread_mutex_lock(&s->lock);
  if (s->loop_started) {
    pthread_mutex_unlock(&s->lock);
    return EBUSY;
  }
  int error = start_thread(&s->invalidator, invalidator_main, s);
  if (error) {
    pthread_mutex_unlock(&s->lock);
    return error;
  }
  s->invalidator_started = 1;
  error = start_thread(&s->loop_thread, loop_thread_main, s);
  if (!error) s->loop_started = 1;
  pthread_mutex_unlock(&s->lock);
  if (error) {
    ermfuse_session_join(s);  // stops the invalidator
    return error;
  }
  return 0;
}

int ermfuse_session_wait_initialized(ermfuse_session *s, int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&s->lock);
  int result = 0;
  while (!s->initialized && !s->loop_finished) {
    if (pthread_cond_timedwait(&s->loop_changed, &s->lock, &until) == ETIMEDOUT) {
      result = ETIMEDOUT;
      break;
    }
  }
  if (!s->initialized && s->loop_finished) result = s->loop_result ? s->loop_result : ECANCELED;
  pthread_mutex_unlock(&s->lock);
  return result;
}

int ermfuse_session_join(ermfuse_session *s) {
  pthread_mutex_lock(&s->lock);
  int started = s->loop_started;
  s->loop_started = 0;
  pthread_mutex_unlock(&s->lock);
  if (started) pthread_join(s->loop_thread, NULL);

  pthread_mutex_lock(&s->lock);
  int invalidator = s->invalidator_started;
  s->invalidator_started = 0;
  s->invalidator_stopping = 1;
  s->invalid_count = 0;  // the kernel's caches go with the mount
  pthread_cond_broadcast(&s->loop_changed);
  int result = s->loop_result;
  pthread_mutex_unlock(&s->lock);
  if (invalidator) pthread_join(s->invalidator, NULL);
  return result;
}

void ermfuse_invalidate_inode_later(ermfuse_session *s, uint64_t ino) {
  pthread_mutex_lock(&s->lock);
  if (s->invalidator_started && !s->invalidator_stopping) {
    if (s->invalid_count == s->invalid_capacity) {
      size_t capacity = s->invalid_capacity ? 2 * s->invalid_capacity : 64;
      uint64_t *grown = realloc(s->invalid, capacity * sizeof(uint64_t));
      if (grown) {
        s->invalid = grown;
        s->invalid_capacity = capacity;
      }
    }
    // Without room the invalidation is skipped: the pages are clean and reclaimable.
    if (s->invalid_count < s->invalid_capacity) {
      s->invalid[s->invalid_count++] = ino;
      pthread_cond_broadcast(&s->loop_changed);
    }
  }
  pthread_mutex_unlock(&s->lock);
}

void ermfuse_session_stop(ermfuse_session *s) {
  fuse_session_exit(s->se);
  pthread_mutex_lock(&s->lock);
  // The wake can land between the loop's exit check and its sem_wait: repeat it.
  while (s->loop_running) {
    pthread_kill(s->loop_thread, SIGUSR2);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 20 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec += 1;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->loop_changed, &s->lock, &until);
  }
  pthread_mutex_unlock(&s->lock);
}

void ermfuse_session_unmount(ermfuse_session *s) { fuse_session_unmount(s->se); }

void ermfuse_session_destroy(ermfuse_session *s) {
  if (!s) return;
  ermfuse_session_stop(s);
  ermfuse_session_join(s);
  fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->loop_changed);
  free(s->invalid);
  free(s);
}

int ermfuse_invalidate_inode(ermfuse_session *s, uint64_t ino, int64_t offset, int64_t length) {
  int r = fuse_lowlevel_notify_inval_inode(s->se, ino, offset, length);
  return r < 0 ? -r : 0;
}

uint64_t ermfuse_request_count(const ermfuse_session *s, uint32_t opcode) {
  if (opcode >= OP_LIMIT) return 0;
  return atomic_load_explicit(&((ermfuse_session *)s)->counts[opcode], memory_order_relaxed);
}

// MARK: Directory listings

static size_t entry_size(const struct ermfuse_dirbuf *b, const char *name) {
  if (b->plus) return fuse_add_direntry_plus(b->req, NULL, 0, name, NULL, 0);
  return fuse_add_direntry(b->req, NULL, 0, name, NULL, 0);
}

int ermfuse_dirbuf_fits(const ermfuse_dirbuf *b, size_t name_length) {
  char name[256];
  if (name_length > 255) return 0;
  memset(name, 'x', name_length);
  name[name_length] = 0;
  return entry_size(b, name) <= b->size - b->used;
}

size_t ermfuse_dirbuf_capacity_hint(const ermfuse_dirbuf *b) {
  size_t smallest = entry_size(b, "x");
  return (b->size - b->used) / (smallest ? smallest : 1) + 1;
}

int ermfuse_dirbuf_add(ermfuse_dirbuf *b, const char *bytes, size_t name_length,
                       const ermfuse_attr *attr, int64_t next_offset) {
  char name[256];
  if (name_length > 255) return 1;
  memcpy(name, bytes, name_length);
  name[name_length] = 0;
  size_t room = b->size - b->used;
  size_t needed;
  if (b->plus) {
    struct fuse_entry_param e;
    entry_from(&e, b->session, attr);
    // "." and ".." carry no lookup: a zero node id tells the kernel not to use them.
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) e.ino = 0;
    needed = fuse_add_direntry_plus(b->req, b->bytes + b->used, room, name, &e, next_offset);
  } else {
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_ino = attr->ino;
    st.st_mode = attr->mode;
    needed = fuse_add_direntry(b->req, b->bytes + b->used, room, name, &st, next_offset);
  }
  if (needed > room) return 1;
  b->used += needed;
  return 0;
}

// MARK: Process helpers

static int termination_pipe[2] = {-1, -1};

static void termination_handler(int signal) {
  int saved = errno;
  unsigned char byte = (unsigned char)signal;
  ssize_t ignored = write(termination_pipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

int ermfuse_termination_signals_install(void) {
  if (termination_pipe[0] < 0 && pipe2(termination_pipe, O_CLOEXEC) != 0) return errno;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = termination_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  int signals[] = {SIGINT, SIGTERM, SIGHUP};
  for (size_t i = 0; i < 3; i++) {
    if (sigaction(signals[i], &sa, NULL) != 0) return errno;
  }
  return 0;
}

int ermfuse_wait_termination_signal(void) {
  unsigned char byte = 0;
  for (;;) {
    ssize_t n = read(termination_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return 0;
  }
}

void ermfuse_post_termination(int signal) { termination_handler(signal); }

int ermfuse_spawn_in_new_session(const char *path, char *const argv[], int output_fd, pid_t *pid) {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  int error = posix_spawnattr_init(&attr);
  if (error) return error;
  error = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  if (!error) error = posix_spawn_file_actions_init(&actions);
  if (error) {
    posix_spawnattr_destroy(&attr);
    return error;
  }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  error = posix_spawn(pid, path, &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return error;
}

size_t ermfuse_heap_in_use(void) {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

int ermfuse_heap_trim(void) { return malloc_trim(0); }

ssize_t ermfuse_getxattr(const char *path, const char *name, void *buffer, size_t size) {
  return getxattr(path, name, buffer, size);
}

int ermfuse_unmount_lazy(const char *mountpoint) {
  if (geteuid() == 0) return umount2(mountpoint, MNT_DETACH) == 0 ? 0 : errno;
  pid_t pid;
  char *argv[] = {(char *)"fusermount3", (char *)"-u", (char *)"-z", (char *)"--",
                  (char *)mountpoint, NULL};
  int error = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
  if (error) return error;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : EPERM;
}
