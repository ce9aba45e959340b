import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One directory entry's name: the bytes Linux compares (any byte but `/` and NUL, at most
/// 255 of them), not a Unicode string. `"caf\u{E9}"` and `"cafe\u{301}"` are two names.
public struct FileName: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
  /// The name's bytes.
  public let bytes: [UInt8]

  /// Longest name accepted, in bytes (Linux `NAME_MAX`).
  public static let maximumLength = 255

  /// The name spelled by `text` in UTF-8.
  public init(_ text: String) { bytes = Array(text.utf8) }

  /// The name made of `bytes` (e.g. as the kernel passes it through FUSE).
  public init(bytes: [UInt8]) { self.bytes = bytes }

  public init(stringLiteral value: String) { self.init(value) }

  /// The name as text (invalid UTF-8 is replaced with U+FFFD; use `bytes` to be exact).
  public var description: String { String(decoding: bytes, as: UTF8.self) }

  /// Hashes the bytes as one block (`Hasher.combine(bytes:)`): the synthesized
  /// conformance fed the array to the hasher one byte at a time, which was ~10% of a
  /// create/unlink cycle (every lookup hashes each path component).
  public func hash(into hasher: inout Hasher) {
    bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
  }

  public static func == (a: FileName, b: FileName) -> Bool {
    a.bytes.count == b.bytes.count && a.bytes.withUnsafeBytes { x in
      b.bytes.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
    }
  }

  var isDot: Bool { bytes == [0x2E] }
  var isDotDot: Bool { bytes == [0x2E, 0x2E] }

  /// Checks a name given on its own (inode-addressed calls): EINVAL for an empty name, a
  /// `/` or a NUL in it; ENAMETOOLONG beyond 255 bytes. `.` and `..` are the caller's to
  /// refuse, with the errno its call uses for them.
  func validate() throws(Errno) {
    guard !bytes.isEmpty, !bytes.contains(0x2F), !bytes.contains(0) else { throw .invalidArgument }
    guard bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
  }
}
