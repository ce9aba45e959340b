// CErmISAL: the one C shim over ISA-L's igzip. Swift sees plain C types only;
// <isa-l/igzip_lib.h> and <isa-l/crc.h> stay private to erm_isal.c.
#ifndef ERM_ISAL_H
#define ERM_ISAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result of a shim call, independent of ISA-L's own constants.
typedef enum {
  ERM_ISAL_OK = 0,             ///< done: a whole member written / a whole deflate stream read
  ERM_ISAL_NO_SPACE = 1,       ///< compress: the member does not fit in the output capacity
  ERM_ISAL_END_INPUT = 2,      ///< inflate: the input ends before the deflate stream does
  ERM_ISAL_OUT_OVERFLOW = 3,   ///< inflate: the stream holds more bytes than the output
  ERM_ISAL_BAD_DATA = 4,       ///< inflate: invalid block, symbol or distance
  ERM_ISAL_NO_MEMORY = 5,      ///< this thread's ISA-L state could not be allocated
  ERM_ISAL_INVALID_LEVEL = 6,  ///< compress: level outside 0...3
  ERM_ISAL_TOO_LARGE = 7,      ///< more than 4 GiB - 1 in one call (ISA-L counts in 32 bits)
  ERM_ISAL_INTERNAL = 8        ///< an ISA-L status the shim does not expect
} erm_isal_status;

/// Highest level ISA-L's igzip knows (ISAL_DEF_MAX_LEVEL).
int erm_isal_max_level(void);

/// Compresses `in` into one complete gzip member (ISA-L writes the 10-byte header, MTIME 0,
/// and the CRC-32/ISIZE trailer) at `level` (0...3). Returns ERM_ISAL_OK with *out_len
/// set, or ERM_ISAL_NO_SPACE when the member does not fit in `out_cap` bytes.
/// Uses this thread's cached stream and level buffer (ISAL_DEF_LVLn_DEFAULT bytes),
/// allocated on first use and freed when the thread exits.
/// Wraps `isal_deflate_stateless_init` and `isal_deflate_stateless` (gzip_flag IGZIP_GZIP).
erm_isal_status erm_isal_gzip_compress(int level, const void *in, size_t in_len,
                                       void *out, size_t out_cap, size_t *out_len);

/// Inflates one raw deflate stream at the start of `in` into `out`. No checksum is
/// computed or checked here: the caller checks the gzip trailer itself.
/// On ERM_ISAL_OK, *in_used is the number of bytes the deflate stream occupies (the
/// trailer starts there) and *out_len the bytes produced. Uses this thread's cached
/// inflate state. Wraps `isal_inflate_init` and `isal_inflate_stateless` (crc_flag ISAL_DEFLATE).
erm_isal_status erm_isal_inflate_raw(const void *in, size_t in_len, size_t *in_used,
                                     void *out, size_t out_cap, size_t *out_len);

/// CRC-32 (the gzip polynomial) of `len` bytes continuing from `crc` (start with 0);
/// equals zlib's crc32. Wraps `crc32_gzip_refl` (PCLMUL/AVX-512 where the CPU has it).
uint32_t erm_isal_crc32(uint32_t crc, const void *buf, size_t len);

/// Bytes of ISA-L state one thread holds after compressing at `level` and inflating
/// (stream, level buffer, inflate state): what each pool worker keeps cached.
size_t erm_isal_thread_state_bytes(int level);

#ifdef __cplusplus
}
#endif
#endif
