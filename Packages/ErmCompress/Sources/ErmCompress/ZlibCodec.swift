import CErmZlib

/// The zlib backend: raw deflate/inflate from zlib (through the CErmZlib shim) inside
/// gzip framing written and checked by ErmCompress.
public struct ZlibCodec: GzipCodec {
  public init() {}

  public var name: String { "zlib" }
  /// zlib's levels, 0...9 (`deflateInit2`).
  public var supportedLevels: ClosedRange<Int32> { 0...9 }

  /// The version of the zlib library linked at run time (`zlibVersion`).
  public static var zlibVersion: String { String(cString: erm_zlib_version()) }

  /// Compresses `input` into one gzip member with this thread's zlib stream. Wraps zlib's
  /// `deflate` (raw, `Z_FINISH`) and `crc32_z`.
  ///
  /// - Throws: `.invalidArgument` (EINVAL) for a level outside 0...9, `.noMemory` (ENOMEM).
  public func compressMember(
    _ input: UnsafeRawBufferPointer, level: CompressionLevel,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) -> Int? {
    try checkLevel(level)
    let framing = GzipMember.headerSize + GzipMember.trailerSize
    guard output.count > framing, let out = output.baseAddress else { return nil }
    guard let stream = erm_zlib_thread_deflater() else { throw .noMemory("zlib could not allocate a deflate stream") }
    var deflated = 0
    let status = erm_deflate_raw(
      stream, level.rawValue, input.baseAddress, input.count,
      out + GzipMember.headerSize, output.count - framing, &deflated)
    switch status {
    case ERM_Z_STREAM_END: break
    case ERM_Z_NO_SPACE: return nil
    case ERM_Z_MEM_ERROR: throw .noMemory("zlib deflate could not allocate memory")
    default: throw .invalidArgument("zlib deflate failed (status \(status.rawValue))")
    }
    GzipMember.writeHeader(into: out, level: level)
    GzipMember.writeTrailer(
      into: out + GzipMember.headerSize + deflated,
      crc: erm_crc32(0, input.baseAddress, input.count), size: input.count)
    return framing + deflated
  }

  /// Decompresses one member into `output`, which must be exactly its size, with this
  /// thread's zlib stream. Wraps zlib's `inflate` (raw) and `crc32_z`.
  public func decompressMember(
    _ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) {
    let body = try GzipMember.parseHeader(member, at: 0)
    guard let stream = erm_zlib_thread_inflater() else { throw .noMemory("zlib could not allocate an inflate stream") }
    let end = try Inflation.inflateExactly(stream, member, from: body, memberStart: 0, into: output)
    let crc = erm_crc32(0, output.baseAddress, output.count)
    try GzipMember.checkTrailer(member, at: end, memberStart: 0, crc: crc, size: output.count)
    let extra = member.count - end - GzipMember.trailerSize
    guard extra == 0 else {
      throw .corrupt("\(extra) bytes follow the gzip member's trailer")
    }
  }
}

/// Drives zlib's inflate over one member's deflate data.
enum Inflation {
  /// Inflates the deflate stream at `bytes[from...]` into exactly `output`.
  ///
  /// - Returns: the offset just past the deflate data (where the trailer starts).
  static func inflateExactly(
    _ stream: OpaquePointer, _ bytes: UnsafeRawBufferPointer, from start: Int, memberStart: Int,
    into output: UnsafeMutableRawBufferPointer
  ) throws(GzipError) -> Int {
    guard erm_inflate_reset(stream) == ERM_Z_OK else { throw .invalidArgument("zlib inflateReset failed") }
    var position = start
    var produced = 0
    var probe: UInt8 = 0
    while true {
      var used = 0
      var written = 0
      let status: erm_z_status
      if produced < output.count {
        status = erm_inflate_step(
          stream, bytes.baseAddress.map { $0 + position }, bytes.count - position, &used,
          output.baseAddress! + produced, output.count - produced, &written, 1)
      } else {
        // The output is full: one more byte would mean the member is larger than expected.
        status = erm_inflate_step(
          stream, bytes.baseAddress.map { $0 + position }, bytes.count - position, &used,
          &probe, 1, &written, 0)
        if written > 0 {
          throw .sizeMismatch(
            "gzip member at offset \(memberStart) decompresses to more than the expected \(output.count) bytes")
        }
      }
      position += used
      produced += written
      switch status {
      case ERM_Z_STREAM_END:
        guard produced == output.count else {
          throw .sizeMismatch(
            "gzip member at offset \(memberStart) decompresses to \(produced) bytes, expected \(output.count)")
        }
        return position
      case ERM_Z_OK:
        continue
      case ERM_Z_NEED_MORE:
        throw .truncated(
          "gzip member at offset \(memberStart): deflate data ends after \(produced) bytes of output, before its end")
      default:
        throw error(for: status, stream: stream, at: position, memberStart: memberStart)
      }
    }
  }

  static func error(for status: erm_z_status, stream: OpaquePointer, at position: Int, memberStart: Int) -> GzipError {
    switch status {
    case ERM_Z_DATA_ERROR:
      return .corrupt(
        "gzip member at offset \(memberStart): invalid deflate data near offset \(position) (zlib: \(String(cString: erm_zstream_message(stream))))")
    case ERM_Z_MEM_ERROR:
      return .noMemory("zlib inflate could not allocate memory")
    default:
      return .invalidArgument("zlib inflate failed (status \(status.rawValue))")
    }
  }
}
