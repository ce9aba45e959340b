import CErmISAL

/// The ISA-L backend (igzip): the fastest compressor and decompressor here, levels 0...3.
///
/// ISA-L writes whole members (`isal_deflate_stateless` with gzip framing). To read, the
/// header is parsed in Swift, ISA-L inflates the raw deflate data only
/// (`isal_inflate_stateless`), and the decoded length, CRC-32 and ISIZE are checked here:
/// ISA-L is never trusted with the checksum (its one-shot inflate has been reported to
/// skip the check on some inputs, intel/isa-l#405).
public struct ISALCodec: GzipCodec {
  public init() {}

  public var name: String { "isal" }
  /// ISA-L's levels, 0...3 (`ISAL_DEF_MAX_LEVEL`).
  public var supportedLevels: ClosedRange<Int32> { 0...Int32(erm_isal_max_level()) }

  /// Bytes of ISA-L state each thread keeps cached once it has compressed at `level` and
  /// decompressed (deflate stream, level buffer, inflate state).
  public static func threadStateBytes(level: CompressionLevel) -> Int {
    erm_isal_thread_state_bytes(level.rawValue)
  }

  /// Compresses `input` into one gzip member with this thread's ISA-L stream. Wraps
  /// `isal_deflate_stateless` (IGZIP_GZIP).
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for a level outside 0...3 or an input of 4 GiB
  ///   or more, `.noMemory` (ENOMEM) when the thread's state cannot be allocated.
  public func compressMember(
    _ input: UnsafeRawBufferPointer, level: CompressionLevel,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) -> Int? {
    try checkLevel(level)
    guard output.count > GzipMember.minimumSize else { return nil }
    var length = 0
    let status = erm_isal_gzip_compress(
      level.rawValue, input.baseAddress, input.count, output.baseAddress, output.count, &length)
    switch status {
    case ERM_ISAL_OK: return length
    case ERM_ISAL_NO_SPACE: return nil
    case ERM_ISAL_NO_MEMORY: throw .noMemory("ISA-L could not allocate its compression state")
    case ERM_ISAL_TOO_LARGE: throw .invalidArgument("ISA-L compresses at most 4 GiB - 1 bytes at once, not \(input.count)")
    default: throw .invalidArgument("ISA-L deflate failed (status \(status.rawValue)) at level \(level.rawValue)")
    }
  }

  /// Decompresses one member into `output`, which must be exactly its size, with this
  /// thread's ISA-L inflate state. Wraps `isal_inflate_stateless` (raw deflate) and
  /// `crc32_gzip_refl`; the CRC-32 and ISIZE are checked here, not by ISA-L.
  public func decompressMember(
    _ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    let body = try GzipMember.parseHeader(member, at: 0)
    var used = 0
    var produced = 0
    let status = erm_isal_inflate_raw(
      member.baseAddress.map { $0 + body }, member.count - body, &used,
      output.baseAddress, output.count, &produced)
    switch status {
    case ERM_ISAL_OK:
      guard produced == output.count else {
        throw .sizeMismatch("gzip member at offset 0 decompresses to \(produced) bytes, expected \(output.count)")
      }
    case ERM_ISAL_OUT_OVERFLOW:
      throw .sizeMismatch("gzip member at offset 0 decompresses to more than the expected \(output.count) bytes")
    case ERM_ISAL_END_INPUT:
      throw .truncated("gzip member at offset 0: deflate data ends after \(produced) bytes of output, before its end")
    case ERM_ISAL_BAD_DATA:
      throw .corrupt("gzip member at offset 0: invalid deflate data (ISA-L inflate)")
    case ERM_ISAL_NO_MEMORY:
      throw .noMemory("ISA-L could not allocate its inflate state")
    case ERM_ISAL_TOO_LARGE:
      throw .invalidArgument("ISA-L inflates at most 4 GiB - 1 bytes at once")
    default:
      throw .invalidArgument("ISA-L inflate failed (status \(status.rawValue))")
    }
    let end = body + used
    try GzipMember.checkTrailer(member, at: end, memberStart: 0, crc: CRC32.checksum(UnsafeRawBufferPointer(output)), size: output.count)
    let extra = member.count - end - GzipMember.trailerSize
    guard extra == 0 else {
      throw .corrupt("\(extra) bytes follow the gzip member's trailer")
    }
  }
}
