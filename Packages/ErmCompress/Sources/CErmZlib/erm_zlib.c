#define _GNU_SOURCE
#include "erm_zlib.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>

struct erm_zstream {
  z_stream z;
  int is_deflate;
};

// zlib rejects a NULL next_out even when avail_out is 0; Swift hands NULL for empty buffers.
static unsigned char erm_empty_out[1];

static uInt clamp_uint(size_t n) { return n > UINT_MAX ? UINT_MAX : (uInt)n; }

erm_zstream *erm_deflater_create(void) {
  erm_zstream *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->is_deflate = 1;
  // Raw deflate (-15): the gzip header and trailer are written by ErmCompress itself, so
  // header fields and checksums are under our control and errors can be classified.
  if (deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(s);
    return NULL;
  }
  return s;
}

erm_zstream *erm_inflater_create(void) {
  erm_zstream *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  if (inflateInit2(&s->z, -15) != Z_OK) {
    free(s);
    return NULL;
  }
  return s;
}

void erm_zstream_destroy(erm_zstream *s) {
  if (s == NULL) return;
  if (s->is_deflate) deflateEnd(&s->z); else inflateEnd(&s->z);
  free(s);
}

// One deflater and one inflater per thread, freed by a pthread key destructor at thread
// exit: no lock on the hot path (a deflater is ~ 260 KiB, so they are not made per call).
struct erm_zlib_thread {
  erm_zstream *deflater;
  erm_zstream *inflater;
};

static pthread_key_t erm_zlib_key;
static pthread_once_t erm_zlib_once = PTHREAD_ONCE_INIT;
static __thread struct erm_zlib_thread *erm_zlib_current;

static void erm_zlib_thread_free(void *p) {
  struct erm_zlib_thread *t = p;
  if (t == NULL) return;
  erm_zstream_destroy(t->deflater);
  erm_zstream_destroy(t->inflater);
  free(t);
  erm_zlib_current = NULL;
}

static void erm_zlib_make_key(void) { pthread_key_create(&erm_zlib_key, erm_zlib_thread_free); }

static struct erm_zlib_thread *erm_zlib_thread(void) {
  if (erm_zlib_current != NULL) return erm_zlib_current;
  pthread_once(&erm_zlib_once, erm_zlib_make_key);
  struct erm_zlib_thread *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  if (pthread_setspecific(erm_zlib_key, t) != 0) {
    free(t);
    return NULL;
  }
  erm_zlib_current = t;
  return t;
}

erm_zstream *erm_zlib_thread_deflater(void) {
  struct erm_zlib_thread *t = erm_zlib_thread();
  if (t == NULL) return NULL;
  if (t->deflater == NULL) t->deflater = erm_deflater_create();
  return t->deflater;
}

erm_zstream *erm_zlib_thread_inflater(void) {
  struct erm_zlib_thread *t = erm_zlib_thread();
  if (t == NULL) return NULL;
  if (t->inflater == NULL) t->inflater = erm_inflater_create();
  return t->inflater;
}

erm_z_status erm_deflate_raw(erm_zstream *s, int level, const void *in, size_t in_len,
                             void *out, size_t out_cap, size_t *out_len) {
  *out_len = 0;
  if (s == NULL || !s->is_deflate || level < 0 || level > 9) return ERM_Z_INTERNAL;
  // After deflateReset no data is pending, so deflateParams only switches the level.
  if (deflateReset(&s->z) != Z_OK) return ERM_Z_INTERNAL;
  if (deflateParams(&s->z, level, Z_DEFAULT_STRATEGY) != Z_OK) return ERM_Z_INTERNAL;
  const unsigned char *ip = in;
  unsigned char *op = out != NULL ? out : erm_empty_out;
  if (out == NULL) out_cap = 0;
  size_t in_left = in_len, out_left = out_cap;
  for (;;) {
    uInt ai = clamp_uint(in_left), ao = clamp_uint(out_left);
    s->z.next_in = (Bytef *)ip;
    s->z.avail_in = ai;
    s->z.next_out = op;
    s->z.avail_out = ao;
    int r = deflate(&s->z, ai == in_left ? Z_FINISH : Z_NO_FLUSH);
    size_t used = ai - s->z.avail_in, made = ao - s->z.avail_out;
    ip += used; in_left -= used;
    op += made; out_left -= made;
    if (r == Z_STREAM_END) {
      *out_len = out_cap - out_left;
      return ERM_Z_STREAM_END;
    }
    if (r == Z_OK || r == Z_BUF_ERROR) {
      if (out_left == 0) return ERM_Z_NO_SPACE;
      if (used == 0 && made == 0) return ERM_Z_INTERNAL;
      continue;
    }
    return r == Z_MEM_ERROR ? ERM_Z_MEM_ERROR : ERM_Z_INTERNAL;
  }
}

erm_z_status erm_inflate_reset(erm_zstream *s) {
  if (s == NULL || s->is_deflate) return ERM_Z_INTERNAL;
  return inflateReset(&s->z) == Z_OK ? ERM_Z_OK : ERM_Z_INTERNAL;
}

erm_z_status erm_inflate_step(erm_zstream *s, const void *in, size_t in_len, size_t *in_used,
                              void *out, size_t out_cap, size_t *out_written, int finish) {
  *in_used = 0;
  *out_written = 0;
  if (s == NULL || s->is_deflate) return ERM_Z_INTERNAL;
  uInt ai = clamp_uint(in_len), ao = clamp_uint(out_cap);
  s->z.next_in = (Bytef *)in;
  s->z.avail_in = in != NULL ? ai : 0;
  s->z.next_out = out != NULL ? out : erm_empty_out;
  s->z.avail_out = out != NULL ? ao : 0;
  ai = s->z.avail_in;
  ao = s->z.avail_out;
  int r = inflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
  *in_used = ai - s->z.avail_in;
  *out_written = ao - s->z.avail_out;
  switch (r) {
    case Z_STREAM_END: return ERM_Z_STREAM_END;
    case Z_OK: return ERM_Z_OK;
    // Z_FINISH reports Z_BUF_ERROR whenever it did not finish, even after progress.
    case Z_BUF_ERROR: return (*in_used || *out_written) ? ERM_Z_OK : ERM_Z_NEED_MORE;
    case Z_DATA_ERROR: case Z_NEED_DICT: return ERM_Z_DATA_ERROR;
    case Z_MEM_ERROR: return ERM_Z_MEM_ERROR;
    default: return ERM_Z_INTERNAL;
  }
}

const char *erm_zstream_message(const erm_zstream *s) {
  return (s != NULL && s->z.msg != NULL) ? s->z.msg : "";
}

uint32_t erm_crc32(uint32_t crc, const void *buf, size_t len) {
  if (buf == NULL || len == 0) return crc;
  return (uint32_t)crc32_z(crc, buf, len);
}

const char *erm_zlib_version(void) { return zlibVersion(); }
