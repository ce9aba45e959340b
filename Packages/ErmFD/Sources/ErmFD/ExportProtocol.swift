import SystemPackage

/// The wire format between ``ExportServer`` and ``ExportClient``: one SOCK_SEQPACKET
/// message each way (documented in docs/decisions/memfd-export.md).
///
/// Request: `UInt32` little-endian ``ExportOptions`` raw value, then the path's UTF-8
/// bytes (no terminator). Reply: `Int32` little-endian errno (0 on success), then a UTF-8
/// message; a successful reply carries the memfd as SCM_RIGHTS ancillary data.
public enum ExportProtocol {
  /// Longest path a request may carry (PATH_MAX less the terminator).
  public static let maximumPathLength = 4095
  /// Largest request: options word plus the longest path.
  public static let maximumRequestLength = 4 + maximumPathLength
  /// Largest reply the client accepts.
  public static let maximumReplyLength = 4 + 1024

  static func encodeRequest(path: String, options: ExportOptions) -> [UInt8] {
    var bytes = withUnsafeBytes(of: options.rawValue.littleEndian, Array.init)
    bytes += path.utf8
    return bytes
  }

  static func encodeReply(error: Errno?, message: String) -> [UInt8] {
    var bytes = withUnsafeBytes(of: (error?.rawValue ?? 0).littleEndian, Array.init)
    bytes += message.utf8.prefix(maximumReplyLength - 4)
    return bytes
  }

  /// The errno and message of a reply, or nil for a malformed one.
  static func decodeReply(_ bytes: UnsafeRawBufferPointer) -> (errno: Int32, message: String)? {
    guard bytes.count >= 4 else { return nil }
    let code = Int32(littleEndian: bytes.loadUnaligned(as: Int32.self))
    return (code, String(decoding: bytes[4...], as: UTF8.self))
  }
}
