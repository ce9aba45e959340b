import SystemPackage

/// Every ErmCompress failure. `kind` says what went wrong, `message` says where, and
/// `errno` is the POSIX error a file system reports for it.
public struct GzipError: Error, Sendable, Equatable, CustomStringConvertible {
  /// What went wrong.
  public enum Kind: Sendable, Hashable {
    /// The bytes are not valid gzip/deflate data (wrong magic, bad flags, invalid codes,
    /// garbage after the last member, an index that does not match the data).
    case corrupt
    /// The input ends before the gzip member (or the stored chunk) does.
    case truncated
    /// A CRC-32 in a trailer (or the CRC-16 of an FHCRC header) does not match the data.
    case checksumMismatch
    /// ISIZE does not match the decompressed byte count, or the data does not have the
    /// size the caller said it has.
    case sizeMismatch
    /// The caller passed an impossible argument (a range outside the file, a wrong
    /// output size, an index that cannot describe the file).
    case invalidArgument
    /// zlib or a scratch buffer could not get memory.
    case noMemory
  }

  public var kind: Kind
  public var message: String

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public init(kind: Kind, message: String) { self.init(kind, message) }

  /// The errno for file-system callers: data errors are `EBADMSG`, bad arguments
  /// `EINVAL`, allocation failures `ENOMEM`.
  public var errno: Errno {
    switch kind {
    case .corrupt, .truncated, .checksumMismatch, .sizeMismatch: return .badMessage
    case .invalidArgument: return .invalidArgument
    case .noMemory: return .noMemory
    }
  }

  public var description: String { "gzip: \(kind): \(message)" }

  static func corrupt(_ message: String) -> GzipError { GzipError(.corrupt, message) }
  static func truncated(_ message: String) -> GzipError { GzipError(.truncated, message) }
  static func checksumMismatch(_ message: String) -> GzipError { GzipError(.checksumMismatch, message) }
  static func sizeMismatch(_ message: String) -> GzipError { GzipError(.sizeMismatch, message) }
  static func invalidArgument(_ message: String) -> GzipError { GzipError(.invalidArgument, message) }
  static func noMemory(_ message: String) -> GzipError { GzipError(.noMemory, message) }
}
