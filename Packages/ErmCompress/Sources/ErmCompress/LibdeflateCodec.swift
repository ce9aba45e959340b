import CErmLibdeflate

/// The libdeflate backend: zlib's ratios at about twice its speed, levels 0...12
/// (10–12 search harder than zlib -9).
///
/// libdeflate reads and writes whole gzip members itself and checks CRC-32 and ISIZE, but
/// reports every kind of damage as one "bad data" (or "insufficient space") result; on
/// that (rare) path the member is read again with zlib to say precisely what is wrong.
public struct LibdeflateCodec: GzipCodec {
  public init() {}

  public var name: String { "libdeflate" }
  /// libdeflate's levels, 0...12.
  public var supportedLevels: ClosedRange<Int32> { 0...Int32(erm_libdeflate_max_level()) }

  /// Compresses `input` into one gzip member with this thread's compressor for `level`.
  /// Wraps `libdeflate_gzip_compress`.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for a level outside 0...12, `.noMemory` (ENOMEM).
  public func compressMember(
    _ input: UnsafeRawBufferPointer, level: CompressionLevel,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) -> Int? {
    try checkLevel(level)
    guard output.count > GzipMember.minimumSize else { return nil }
    var length = 0
    let status = erm_libdeflate_gzip_compress(
      level.rawValue, input.baseAddress, input.count, output.baseAddress, output.count, &length)
    switch status {
    case ERM_LD_OK: return length
    case ERM_LD_NO_SPACE: return nil
    case ERM_LD_NO_MEMORY: throw .noMemory("libdeflate could not allocate a level-\(level.rawValue) compressor")
    default: throw .invalidArgument("libdeflate compression failed (status \(status.rawValue)) at level \(level.rawValue)")
    }
  }

  /// Decompresses one member into `output`, which must be exactly its size, with this
  /// thread's decompressor. Wraps `libdeflate_gzip_decompress_ex` (which checks CRC-32
  /// and ISIZE); damaged members are diagnosed with zlib.
  public func decompressMember(
    _ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    var used = 0
    var produced = 0
    let status = erm_libdeflate_gzip_decompress(
      member.baseAddress, member.count, &used, output.baseAddress, output.count, &produced)
    switch status {
    case ERM_LD_OK:
      guard produced == output.count else {
        throw .sizeMismatch("gzip member at offset 0 decompresses to \(produced) bytes, expected \(output.count)")
      }
      guard used == member.count else {
        throw .corrupt("\(member.count - used) bytes follow the gzip member's trailer")
      }
    case ERM_LD_NO_MEMORY:
      throw .noMemory("libdeflate could not allocate a decompressor")
    default:
      // "Insufficient space" is no diagnosis either: libdeflate reads past the end of a
      // truncated member as zero bits, which can decode to more output before it stops.
      try diagnose(member, into: output)
    }
  }

  /// libdeflate said "bad data": let zlib name the damage. If zlib reads the member after
  /// all, the two libraries disagree; that is reported, not papered over.
  private func diagnose(_ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try ZlibCodec().decompressMember(member, into: output)
    throw .corrupt("libdeflate rejects a gzip member that zlib reads (\(member.count) bytes)")
  }
}
