#define _GNU_SOURCE
#include "erm_isal.h"

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// One per thread: ISA-L state is large (the deflate stream ~ 90 KiB, the level buffer up
// to ~ 400 KiB, the inflate state ~ 90 KiB), so it is made once per thread and reused,
// without a lock. A pthread key frees it when the thread exits.
struct erm_isal_thread {
  struct isal_zstream deflater;
  uint8_t *level_buf;
  size_t level_buf_size;
  struct inflate_state inflater;
};

static pthread_key_t erm_isal_key;
static pthread_once_t erm_isal_once = PTHREAD_ONCE_INIT;
static __thread struct erm_isal_thread *erm_isal_current;

static void erm_isal_thread_free(void *p) {
  struct erm_isal_thread *t = p;
  if (t == NULL) return;
  free(t->level_buf);
  free(t);
  erm_isal_current = NULL;
}

static void erm_isal_make_key(void) { pthread_key_create(&erm_isal_key, erm_isal_thread_free); }

static struct erm_isal_thread *erm_isal_thread(void) {
  if (erm_isal_current != NULL) return erm_isal_current;
  pthread_once(&erm_isal_once, erm_isal_make_key);
  struct erm_isal_thread *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  if (pthread_setspecific(erm_isal_key, t) != 0) {
    free(t);
    return NULL;
  }
  erm_isal_current = t;
  return t;
}

static size_t erm_isal_level_buf_size(int level) {
  switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return 0;
  }
}

int erm_isal_max_level(void) { return ISAL_DEF_MAX_LEVEL; }

erm_isal_status erm_isal_gzip_compress(int level, const void *in, size_t in_len,
                                       void *out, size_t out_cap, size_t *out_len) {
  *out_len = 0;
  if (level < 0 || level > ISAL_DEF_MAX_LEVEL) return ERM_ISAL_INVALID_LEVEL;
  if (in_len > UINT32_MAX) return ERM_ISAL_TOO_LARGE;
  if (out_cap > UINT32_MAX) out_cap = UINT32_MAX;
  struct erm_isal_thread *t = erm_isal_thread();
  if (t == NULL) return ERM_ISAL_NO_MEMORY;
  size_t need = erm_isal_level_buf_size(level);
  if (need > t->level_buf_size) {
    uint8_t *grown = realloc(t->level_buf, need);
    if (grown == NULL) return ERM_ISAL_NO_MEMORY;
    t->level_buf = grown;
    t->level_buf_size = need;
  }
  struct isal_zstream *s = &t->deflater;
  isal_deflate_stateless_init(s);
  s->level = (uint32_t)level;
  s->level_buf = need > 0 ? t->level_buf : NULL;
  s->level_buf_size = (uint32_t)need;
  s->gzip_flag = IGZIP_GZIP;
  s->end_of_stream = 1;
  s->flush = NO_FLUSH;
  s->next_in = (uint8_t *)in;
  s->avail_in = (uint32_t)in_len;
  s->next_out = out;
  s->avail_out = out != NULL ? (uint32_t)out_cap : 0;
  int r = isal_deflate_stateless(s);
  switch (r) {
    case COMP_OK:
      *out_len = s->total_out;
      return ERM_ISAL_OK;
    case STATELESS_OVERFLOW: return ERM_ISAL_NO_SPACE;
    case ISAL_INVALID_LEVEL: return ERM_ISAL_INVALID_LEVEL;
    default: return ERM_ISAL_INTERNAL;
  }
}

erm_isal_status erm_isal_inflate_raw(const void *in, size_t in_len, size_t *in_used,
                                     void *out, size_t out_cap, size_t *out_len) {
  *in_used = 0;
  *out_len = 0;
  if (in_len > UINT32_MAX || out_cap > UINT32_MAX) return ERM_ISAL_TOO_LARGE;
  struct erm_isal_thread *t = erm_isal_thread();
  if (t == NULL) return ERM_ISAL_NO_MEMORY;
  struct inflate_state *s = &t->inflater;
  // One shot over the whole member: the output buffer is exactly the chunk, so the
  // stateless decoder never needs its own window copy (measured ~3% faster than
  // isal_inflate here). Raw mode: the trailer is checked by the caller, never by ISA-L.
  isal_inflate_init(s);
  s->crc_flag = ISAL_DEFLATE;
  static uint8_t empty[1];
  s->next_in = in != NULL ? (uint8_t *)in : empty;
  s->avail_in = in != NULL ? (uint32_t)in_len : 0;
  s->next_out = out != NULL ? out : empty;
  s->avail_out = out != NULL ? (uint32_t)out_cap : 0;
  int r = isal_inflate_stateless(s);
  *out_len = s->total_out;
  switch (r) {
    case ISAL_DECOMP_OK: {
      // Bytes ISA-L pulled into its bit buffer but did not use belong to the trailer.
      size_t consumed = (size_t)(s->next_in - (const uint8_t *)(in != NULL ? in : empty));
      size_t unread = (size_t)(s->read_in_length > 0 ? s->read_in_length / 8 : 0);
      *in_used = consumed - unread;
      return ERM_ISAL_OK;
    }
    case ISAL_END_INPUT: return ERM_ISAL_END_INPUT;
    case ISAL_OUT_OVERFLOW: return ERM_ISAL_OUT_OVERFLOW;
    case ISAL_INVALID_BLOCK: case ISAL_INVALID_SYMBOL: case ISAL_INVALID_LOOKBACK:
      return ERM_ISAL_BAD_DATA;
    default: return ERM_ISAL_INTERNAL;
  }
}

uint32_t erm_isal_crc32(uint32_t crc, const void *buf, size_t len) {
  if (buf == NULL || len == 0) return crc;
  return crc32_gzip_refl(crc, buf, (uint64_t)len);
}

size_t erm_isal_thread_state_bytes(int level) {
  return sizeof(struct erm_isal_thread) + erm_isal_level_buf_size(level);
}
