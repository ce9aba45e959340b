/// A compression level on gzip's scale: 0 stores only, 1 is the fastest level that
/// compresses, higher numbers trade speed for size.
///
/// The number means what it means to the chosen backend's own tool: zlib accepts 0...9
/// (`gzip -N`), ISA-L 0...3 (`igzip -N`), libdeflate 0...12 (`libdeflate-gzip -N`). A
/// `CompressionLevel` holds any of 0...12; each `GzipCodec` rejects levels outside its
/// `supportedLevels` with `.invalidArgument` (EINVAL).
public struct CompressionLevel: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  /// Every level some backend accepts.
  public static let range: ClosedRange<Int32> = 0...12

  /// The level, 0...12.
  public let rawValue: Int32

  /// A level in 0...12, or nil for anything else.
  public init?(rawValue: Int32) {
    guard Self.range.contains(rawValue) else { return nil }
    self.rawValue = rawValue
  }

  /// Level 1: the fastest level that still compresses (`gzip -1`, `igzip -1`).
  public static let fastest = CompressionLevel(uncheckedRawValue: 1)
  /// Level 6: zlib's and gzip's default balance of speed and size (`gzip -6`).
  public static let `default` = CompressionLevel(uncheckedRawValue: 6)
  /// Level 9: the smallest output zlib produces (`gzip -9`).
  public static let best = CompressionLevel(uncheckedRawValue: 9)
  /// Level 0: deflate stored blocks only; never smaller than the input, so ChunkedGzip
  /// keeps every chunk raw at this level.
  public static let storeOnly = CompressionLevel(uncheckedRawValue: 0)
  /// zlib's levels, 0...9 (what `all` meant before other backends existed).
  public static let all: [CompressionLevel] = (0...9).map { CompressionLevel(uncheckedRawValue: $0) }

  public var description: String { "level \(rawValue)" }

  init(uncheckedRawValue: Int32) { rawValue = uncheckedRawValue }
}
