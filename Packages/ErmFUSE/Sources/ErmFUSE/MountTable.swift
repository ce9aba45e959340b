#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The mounts this process sees (`/proc/self/mountinfo`), to tell whether a directory
/// is a mount point and of what type without touching the file system behind it (a dead
/// FUSE daemon makes every access to it fail with ENOTCONN).
public enum MountTable {
  /// One line of mountinfo.
  public struct Entry: Sendable, Hashable {
    /// The backing device as `major:minor` (FUSE mounts: `0:N`, also the bdi's name).
    public var device: String
    /// Where it is mounted (octal escapes decoded).
    public var mountPoint: String
    /// The file system type, e.g. `fuse.ermfs`, `tmpfs`.
    public var type: String
    /// The source, e.g. `ermfs`.
    public var source: String
  }

  /// Every mount, in mount order.
  public static func entries() -> [Entry] {
    guard let text = readWholeFile("/proc/self/mountinfo") else { return [] }
    var result: [Entry] = []
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: false)
      guard fields.count >= 10, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { continue }
      result.append(Entry(device: String(fields[2]), mountPoint: unescape(fields[4]),
                          type: String(fields[dash + 1]), source: unescape(fields[dash + 2])))
    }
    return result
  }

  /// The topmost mount exactly at `path` (an absolute, canonical path), if any.
  public static func entry(at path: String) -> Entry? {
    entries().last { $0.mountPoint == path }
  }

  /// The device (`major:minor`) of the mount at `path`.
  public static func device(of path: String) -> String? { entry(at: path)?.device }

  /// mountinfo writes space, tab, newline and backslash as `\ooo`.
  static func unescape(_ field: Substring) -> String {
    var bytes: [UInt8] = []
    let source = Array(field.utf8)
    var i = 0
    while i < source.count {
      if source[i] == UInt8(ascii: "\\"), i + 3 < source.count {
        let digits = source[(i + 1)..<min(i + 4, source.count)]
        if digits.count == 3, digits.allSatisfy({ (48...55).contains($0) }) {
          bytes.append(digits.reduce(0) { $0 * 8 + ($1 - 48) })
          i += 4
          continue
        }
      }
      bytes.append(source[i])
      i += 1
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  static func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
