#define _GNU_SOURCE
#include "erm_libdeflate.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>

#define ERM_LD_MAX_LEVEL 12

// A libdeflate compressor or decompressor must not be shared between threads at once, so
// each thread keeps its own (one compressor per level it used), without a lock. A pthread
// key frees them when the thread exits.
struct erm_ld_thread {
  struct libdeflate_compressor *compressors[ERM_LD_MAX_LEVEL + 1];
  struct libdeflate_decompressor *decompressor;
};

static pthread_key_t erm_ld_key;
static pthread_once_t erm_ld_once = PTHREAD_ONCE_INIT;
static __thread struct erm_ld_thread *erm_ld_current;

static void erm_ld_thread_free(void *p) {
  struct erm_ld_thread *t = p;
  if (t == NULL) return;
  for (int i = 0; i <= ERM_LD_MAX_LEVEL; i++) libdeflate_free_compressor(t->compressors[i]);
  libdeflate_free_decompressor(t->decompressor);
  free(t);
  erm_ld_current = NULL;
}

static void erm_ld_make_key(void) { pthread_key_create(&erm_ld_key, erm_ld_thread_free); }

static struct erm_ld_thread *erm_ld_thread(void) {
  if (erm_ld_current != NULL) return erm_ld_current;
  pthread_once(&erm_ld_once, erm_ld_make_key);
  struct erm_ld_thread *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  if (pthread_setspecific(erm_ld_key, t) != 0) {
    free(t);
    return NULL;
  }
  erm_ld_current = t;
  return t;
}

int erm_libdeflate_max_level(void) { return ERM_LD_MAX_LEVEL; }

erm_ld_status erm_libdeflate_gzip_compress(int level, const void *in, size_t in_len,
                                           void *out, size_t out_cap, size_t *out_len) {
  *out_len = 0;
  if (level < 0 || level > ERM_LD_MAX_LEVEL) return ERM_LD_INVALID_LEVEL;
  struct erm_ld_thread *t = erm_ld_thread();
  if (t == NULL) return ERM_LD_NO_MEMORY;
  if (t->compressors[level] == NULL) {
    t->compressors[level] = libdeflate_alloc_compressor(level);
    if (t->compressors[level] == NULL) return ERM_LD_NO_MEMORY;
  }
  if (out == NULL) return ERM_LD_NO_SPACE;
  size_t n = libdeflate_gzip_compress(t->compressors[level], in, in_len, out, out_cap);
  if (n == 0) return ERM_LD_NO_SPACE;
  *out_len = n;
  return ERM_LD_OK;
}

erm_ld_status erm_libdeflate_gzip_decompress(const void *in, size_t in_len, size_t *in_used,
                                             void *out, size_t out_cap, size_t *out_len) {
  *in_used = 0;
  *out_len = 0;
  struct erm_ld_thread *t = erm_ld_thread();
  if (t == NULL) return ERM_LD_NO_MEMORY;
  if (t->decompressor == NULL) {
    t->decompressor = libdeflate_alloc_decompressor();
    if (t->decompressor == NULL) return ERM_LD_NO_MEMORY;
  }
  static unsigned char empty[1];
  enum libdeflate_result r = libdeflate_gzip_decompress_ex(
      t->decompressor, in != NULL ? in : empty, in != NULL ? in_len : 0, out != NULL ? out : empty,
      out != NULL ? out_cap : 0, in_used, out_len);
  switch (r) {
    case LIBDEFLATE_SUCCESS: return ERM_LD_OK;
    case LIBDEFLATE_INSUFFICIENT_SPACE: return ERM_LD_INSUFFICIENT_SPACE;
    default: return ERM_LD_BAD_DATA;
  }
}

uint32_t erm_libdeflate_crc32(uint32_t crc, const void *buf, size_t len) {
  if (buf == NULL || len == 0) return crc;
  return libdeflate_crc32(crc, buf, len);
}
