// CErmLibdeflate: the one C shim over libdeflate. Swift sees plain C types only;
// <libdeflate.h> stays private to erm_libdeflate.c.
#ifndef ERM_LIBDEFLATE_H
#define ERM_LIBDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result of a shim call, independent of libdeflate's own constants.
typedef enum {
  ERM_LD_OK = 0,                  ///< done
  ERM_LD_NO_SPACE = 1,            ///< compress: the member does not fit in the output capacity
  ERM_LD_BAD_DATA = 2,            ///< decompress: invalid, truncated, or CRC-32/ISIZE mismatch
  ERM_LD_INSUFFICIENT_SPACE = 3,  ///< decompress: the member holds more bytes than the output
  ERM_LD_NO_MEMORY = 4,           ///< this thread's compressor/decompressor could not be allocated
  ERM_LD_INVALID_LEVEL = 5        ///< compress: level outside 0...12
} erm_ld_status;

/// Highest level libdeflate knows (12).
int erm_libdeflate_max_level(void);

/// Compresses `in` into one complete gzip member (header, deflate data, CRC-32, ISIZE) at
/// `level` (0...12). Returns ERM_LD_OK with *out_len set, or ERM_LD_NO_SPACE when it does
/// not fit in `out_cap` bytes. Uses this thread's compressor for that level, allocated on
/// first use and freed when the thread exits. Wraps `libdeflate_gzip_compress`.
erm_ld_status erm_libdeflate_gzip_compress(int level, const void *in, size_t in_len,
                                           void *out, size_t out_cap, size_t *out_len);

/// Decompresses the one gzip member at the start of `in` into `out`; libdeflate checks
/// the member's CRC-32 and ISIZE. *in_used is the member's length, *out_len the bytes
/// produced. Uses this thread's decompressor. Wraps `libdeflate_gzip_decompress_ex`.
erm_ld_status erm_libdeflate_gzip_decompress(const void *in, size_t in_len, size_t *in_used,
                                             void *out, size_t out_cap, size_t *out_len);

/// CRC-32 (the gzip polynomial) continuing from `crc` (start with 0). Wraps `libdeflate_crc32`.
uint32_t erm_libdeflate_crc32(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
