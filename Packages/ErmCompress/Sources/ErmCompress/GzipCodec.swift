/// A gzip (RFC 1952) backend that works one complete member at a time.
///
/// ChunkedGzip only ever needs whole members, so a backend keeps no streaming state
/// between calls and chunks can be handed to several threads. Every backend writes plain
/// gzip members and reads any member any gzip writer produced: a file compressed by one
/// backend is read by any other.
public protocol GzipCodec: Sendable {
  /// A short name for logs and benchmarks ("zlib", "isal", "libdeflate").
  var name: String { get }

  /// The levels `compressMember` accepts; others throw `.invalidArgument` (EINVAL).
  var supportedLevels: ClosedRange<Int32> { get }

  /// Writes one complete gzip member (header, deflate data, CRC-32 and ISIZE trailer)
  /// holding `input` into `output`.
  ///
  /// - Returns: the number of bytes written, or nil when the member does not fit in
  ///   `output.count` bytes (callers use this to detect incompressible data).
  /// - Throws: `.invalidArgument` for a level outside `supportedLevels`, `.noMemory`
  ///   when the backend cannot allocate its state.
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

extension GzipCodec {
  /// The type's name, for codecs written before `name` existed.
  public var name: String { "\(Self.self)" }

  /// zlib's range 0...9, for codecs written before `supportedLevels` existed.
  public var supportedLevels: ClosedRange<Int32> { 0...9 }

  /// Throws `.invalidArgument` unless `level` is one this codec accepts.
  func checkLevel(_ level: CompressionLevel) throws(GzipError) {
    guard supportedLevels.contains(level.rawValue) else {
      throw .invalidArgument(
        "\(name) accepts levels \(supportedLevels.lowerBound)...\(supportedLevels.upperBound), not \(level.rawValue)")
    }
  }
}
