/// The gzip backends ErmCompress links, by name: what a configuration picks.
///
/// All three write plain RFC 1952 members and read each other's output, so the backend
/// that wrote a file is not recorded anywhere (see docs/decisions/gzip-backends.md).
public enum GzipBackend: String, Sendable, CaseIterable, CustomStringConvertible {
  /// zlib (`deflate`/`inflate`): the reference and the fallback, levels 0...9.
  case zlib
  /// ISA-L igzip (`isal_deflate_stateless`/`isal_inflate`): the fastest, levels 0...3.
  case isal
  /// libdeflate (`libdeflate_gzip_compress`/`_decompress_ex`): zlib's ratios faster, levels 0...12.
  case libdeflate

  /// The codec that does this backend's work.
  public var codec: any GzipCodec {
    switch self {
    case .zlib: return ZlibCodec()
    case .isal: return ISALCodec()
    case .libdeflate: return LibdeflateCodec()
    }
  }

  /// The levels this backend accepts.
  public var levels: ClosedRange<Int32> { codec.supportedLevels }

  /// The level used when a configuration names the backend but no level: each backend's
  /// own tool default (zlib 6, ISA-L 1, libdeflate 6).
  public var defaultLevel: CompressionLevel {
    switch self {
    case .zlib, .libdeflate: return .default
    case .isal: return .fastest
    }
  }

  /// The backend called `name` ("zlib", "isal", "libdeflate"; "igzip" and "isa-l" name ISA-L), or nil.
  public init?(name: String) {
    switch name.lowercased() {
    case "zlib": self = .zlib
    case "isal", "isa-l", "igzip": self = .isal
    case "libdeflate": self = .libdeflate
    default: return nil
    }
  }

  public var description: String { rawValue }
}
