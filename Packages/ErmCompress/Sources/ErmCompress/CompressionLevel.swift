/// A zlib compression level, 0 (store only) through 9 (smallest output).
///
/// The numbers mean what they mean to `gzip -N` and zlib's `deflateInit2`, so a level chosen
/// here compares directly with the command-line tool.
public struct CompressionLevel: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  /// The zlib level, 0...9.
  public let rawValue: Int32

  /// A level in 0...9, or nil for anything else.
  public init?(rawValue: Int32) {
    guard (0...9).contains(rawValue) else { return nil }
    self.rawValue = rawValue
  }

  /// Level 1: the fastest level that still compresses (`gzip -1`).
  public static let fastest = CompressionLevel(uncheckedRawValue: 1)
  /// Level 6: zlib's and gzip's default balance of speed and size (`gzip -6`).
  public static let `default` = CompressionLevel(uncheckedRawValue: 6)
  /// Level 9: the smallest output zlib produces (`gzip -9`).
  public static let best = CompressionLevel(uncheckedRawValue: 9)
  /// Level 0: deflate stored blocks only; never smaller than the input, so ChunkedGzip
  /// keeps every chunk raw at this level.
  public static let storeOnly = CompressionLevel(uncheckedRawValue: 0)
  /// Every level, 0...9.
  public static let all: [CompressionLevel] = (0...9).map { CompressionLevel(uncheckedRawValue: $0) }

  public var description: String { "level \(rawValue)" }

  private init(uncheckedRawValue: Int32) { rawValue = uncheckedRawValue }
}
