// CErmZlib: the one C shim over zlib. Swift sees plain C types and an opaque stream
// handle only; zlib.h stays private to erm_zlib.c (see PLATFORM.md for why).
#ifndef ERM_ZLIB_H
#define ERM_ZLIB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Result of a shim call, independent of zlib's own constants.
typedef enum {
  ERM_Z_OK = 0,          ///< progress made, stream not finished
  ERM_Z_STREAM_END = 1,  ///< the deflate stream is complete
  ERM_Z_NO_SPACE = 2,    ///< deflate: output does not fit in the given capacity
  ERM_Z_NEED_MORE = 3,   ///< inflate: no progress possible without more input or output
  ERM_Z_DATA_ERROR = 4,  ///< inflate: the deflate data is invalid
  ERM_Z_MEM_ERROR = 5,   ///< zlib could not allocate its state
  ERM_Z_INTERNAL = 6     ///< misuse or an unexpected zlib state
} erm_z_status;

/// An opaque zlib stream (a z_stream plus its mode), reused across members.
typedef struct erm_zstream erm_zstream;

/// Creates a raw-deflate (no zlib/gzip wrapper) compressor. NULL when out of memory.
/// Wraps `deflateInit2` with windowBits -15, memLevel 8.
erm_zstream *erm_deflater_create(void);

/// Creates a raw-inflate decompressor. NULL when out of memory. Wraps `inflateInit2` (-15).
erm_zstream *erm_inflater_create(void);

/// This thread's raw deflater, created on first use and freed when the thread exits.
/// Members are compressed whole, so a thread never needs two at once and no lock is
/// taken. NULL when out of memory. Never pass it to erm_zstream_destroy.
erm_zstream *erm_zlib_thread_deflater(void);

/// This thread's raw inflater, as erm_zlib_thread_deflater. Callers that hand control
/// back to other code between inflate steps (streaming gunzip) create their own instead.
erm_zstream *erm_zlib_thread_inflater(void);

/// Frees a stream made by either create function (`deflateEnd` / `inflateEnd`). NULL is ignored.
void erm_zstream_destroy(erm_zstream *stream);

/// Compresses `in` as one complete raw deflate stream at `level` (0...9) into `out`.
/// Returns ERM_Z_STREAM_END with *out_len set, or ERM_Z_NO_SPACE when it does not fit
/// in `out_cap`. Wraps `deflateReset`, `deflateParams`, `deflate(Z_FINISH)`.
erm_z_status erm_deflate_raw(erm_zstream *stream, int level,
                             const void *in, size_t in_len,
                             void *out, size_t out_cap, size_t *out_len);

/// Starts a new raw deflate stream on an inflater. Wraps `inflateReset`.
erm_z_status erm_inflate_reset(erm_zstream *stream);

/// Inflates as much as possible from `in` into `out`; reports bytes consumed and produced.
/// `finish` nonzero promises that `out` can hold the rest of the stream (lets zlib skip
/// its window copy). Returns ERM_Z_STREAM_END, ERM_Z_OK, ERM_Z_NEED_MORE or an error.
/// Wraps `inflate`.
erm_z_status erm_inflate_step(erm_zstream *stream,
                              const void *in, size_t in_len, size_t *in_used,
                              void *out, size_t out_cap, size_t *out_written,
                              int finish);

/// zlib's message for the last inflate/deflate error, or "" when there is none.
const char *erm_zstream_message(const erm_zstream *stream);

/// CRC-32 (the gzip polynomial) of `len` bytes continuing from `crc` (start with 0).
/// Wraps `crc32_z`.
uint32_t erm_crc32(uint32_t crc, const void *buf, size_t len);

/// The version string of the zlib linked at run time (`zlibVersion`).
const char *erm_zlib_version(void);

#ifdef __cplusplus
}
#endif
#endif
