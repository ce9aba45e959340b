/// A gzip (RFC 1952) backend that works one complete member at a time.
///
/// ChunkedGzip only ever needs whole members, so faster backends (libdeflate, ISA-L) can
/// conform without any streaming state, and chunks can be handed to several threads.
public protocol GzipCodec: Sendable {
  /// Writes one complete gzip member (header, deflate data, CRC-32 and ISIZE trailer)
  /// holding `input` into `output`.
  ///
  /// - Returns: the number of bytes written, or nil when the member does not fit in
  ///   `output.count` bytes (callers use this to detect incompressible data).
  func compressMember(
    _ input: UnsafeRawBufferPointer, level: CompressionLevel,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) -> Int?

  /// Decompresses exactly one member that spans all of `member` into `output`.
  ///
  /// The member must decompress to exactly `output.count` bytes; the CRC-32 and ISIZE in
  /// its trailer are checked. Throws `.truncated`, `.corrupt`, `.checksumMismatch` or
  /// `.sizeMismatch`; `output`'s contents are unspecified after a throw.
  func decompressMember(
    _ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError)
}
