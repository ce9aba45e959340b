import SystemPackage

/// A path after lexical normalisation: absolute, no `.`/`..`/empty components.
///
/// ErmFS has no symbolic links, so resolving `..` lexically gives the same answer as
/// walking the tree, except that `/file/..` is `/` instead of ENOTDIR (documented).
struct Path: Hashable, Sendable, CustomStringConvertible {
  /// Components below the root; empty for `/`.
  var components: [String]
  /// The text ended in `/` (e.g. `/a/`): the final component must then be a directory.
  var requiresDirectory: Bool
  /// The text's last component was `.` or `..` (rmdir and rename refuse those: EINVAL).
  var endsInDot = false

  static let root = Path(components: [], requiresDirectory: false)

  /// Longest path accepted, in bytes (Linux PATH_MAX).
  static let maximumLength = 4096
  /// Longest component accepted, in bytes (Linux NAME_MAX).
  static let maximumComponentLength = 255

  /// Parses and normalises `text`.
  ///
  /// - Throws: ENOENT for an empty path, EINVAL for a relative path or an embedded NUL,
  ///   ENAMETOOLONG for a path over 4096 bytes or a component over 255 bytes.
  init(_ text: String) throws(Errno) {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty else { throw .noSuchFileOrDirectory }
    guard !bytes.contains(0) else { throw .invalidArgument }
    guard bytes.count <= Path.maximumLength else { throw .fileNameTooLong }
    guard bytes[0] == UInt8(ascii: "/") else { throw .invalidArgument }
    var components: [String] = []
    var lastWasDot = false
    for piece in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
      guard piece.count <= Path.maximumComponentLength else { throw .fileNameTooLong }
      lastWasDot = true
      if piece.count == 1 && piece.first == UInt8(ascii: ".") { continue }
      if piece.count == 2 && piece.allSatisfy({ $0 == UInt8(ascii: ".") }) {
        // `..` of the root is the root: a path never escapes.
        if !components.isEmpty { components.removeLast() }
        continue
      }
      lastWasDot = false
      components.append(String(decoding: piece, as: UTF8.self))
    }
    self.components = components
    // `/a/` and `/a/.` name a directory: a file there is ENOTDIR.
    self.requiresDirectory = (bytes.last == UInt8(ascii: "/") || lastWasDot) && !components.isEmpty
    self.endsInDot = lastWasDot
  }

  init(components: [String], requiresDirectory: Bool) {
    self.components = components
    self.requiresDirectory = requiresDirectory
  }

  var isRoot: Bool { components.isEmpty }
  var name: String? { components.last }
  var parent: Path { Path(components: Array(components.dropLast()), requiresDirectory: false) }

  /// True when `self` lies strictly below `other`.
  func isStrictlyInside(_ other: Path) -> Bool {
    components.count > other.components.count
      && zip(components, other.components).allSatisfy { FileName($0) == FileName($1) }
  }

  var description: String { "/" + components.joined(separator: "/") }
}

/// A directory entry's name compared byte for byte, as the kernel compares names.
/// `String` equality is Unicode canonical equivalence: it would make "caf\u{E9}" and
/// "cafe\u{301}" (two different names on Linux) one entry.
struct FileName: Hashable, Sendable {
  let text: String

  init(_ text: String) { self.text = text }

  static func == (lhs: FileName, rhs: FileName) -> Bool {
    lhs.text.utf8.elementsEqual(rhs.text.utf8)
  }

  func hash(into hasher: inout Hasher) {
    hasher.combine(text.utf8.count)
    for byte in text.utf8 { hasher.combine(byte) }
  }
}
