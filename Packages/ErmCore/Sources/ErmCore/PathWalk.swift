import SystemPackage

/// A path as text, split into components (swift-system's `FilePath` does the splitting)
/// but NOT normalised: `.`, `..` and symbolic links are resolved by walking the tree, as
/// Linux does, so `/missing/../f` is ENOENT and `/file/..` is ENOTDIR.
struct ParsedPath {
  enum Component: Equatable {
    case name(FileName)
    case dot
    case dotDot
  }

  var components: [Component]
  var isAbsolute: Bool
  /// The text ended in `/`: the last component must be a directory (and is followed if it
  /// is a symbolic link).
  var trailingSlash: Bool

  /// Longest path accepted, in bytes: Linux's `PATH_MAX` (4096) counts the final NUL.
  static let maximumLength = 4095

  /// Splits `text`.
  ///
  /// - Throws: ENOENT for an empty path, EINVAL for an embedded NUL, ENAMETOOLONG for a
  ///   path over 4095 bytes. Long components are refused when the walk reaches them.
  init(_ text: String) throws(Errno) {
    try self.init(bytes: Array(text.utf8))
  }

  /// Splits a path given as bytes (a symbolic link's target).
  init(bytes: [UInt8]) throws(Errno) {
    guard !bytes.isEmpty else { throw .noSuchFileOrDirectory }
    guard !bytes.contains(0) else { throw .invalidArgument }
    guard bytes.count <= ParsedPath.maximumLength else { throw .fileNameTooLong }
    let path = (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
      FilePath(platformString: $0.baseAddress!)
    }
    isAbsolute = path.root != nil
    trailingSlash = bytes.last == UInt8(ascii: "/")
    components = path.components.map { component in
      switch component.kind {
      case .currentDirectory: return .dot
      case .parentDirectory: return .dotDot
      default:
        return .name(FileName(bytes: component.withPlatformString { pointer in
          var out: [UInt8] = []
          var p = pointer
          while p.pointee != 0 { out.append(UInt8(bitPattern: p.pointee)); p += 1 }
          return out
        }))
      }
    }
  }
}

/// What a path's last component is (Linux's `last_type`): calls refuse `.`, `..` and the
/// root each with their own errno.
enum LastComponent {
  case name(FileName)
  case dot
  case dotDot
  /// The path was `/` (no components at all).
  case root
}

/// What a path walk needs from a directory tree.
protocol DirectoryLookup {
  var root: Inode { get }
  /// The inode `name` names in `directory` (a directory), if any.
  func child(of directory: Inode, named name: FileName) -> Inode?
  /// `..` of `directory`; the root's is the root.
  func parent(of directory: Inode) -> Inode
}

/// Linux's path walk (fs/namei.c), the one place its rules live: every component but
/// the last must resolve to a directory (ENOENT when missing, ENOTDIR when not a
/// directory); `..` goes up the tree, never above the root; symbolic links in the middle
/// of a path are always followed, the last one only when the call says so (or the path
/// ends in `/`); more than 40 links in one walk is ELOOP; a component over 255 bytes is
/// ENAMETOOLONG when the walk reaches it.
///
/// The tree is passed in (borrowed) to each call rather than stored, so a walk inside a
/// mutating operation of a value-type tree never copies it.
struct PathWalk {
  /// Symbolic links followed so far (Linux `MAXSYMLINKS`).
  private(set) var links = 0
  static var maximumLinks: Int { 40 }

  init() {}

  /// The directory holding `path`'s last component, and that component. Relative paths
  /// start at `start` (a symbolic link's directory); absolute ones at the root.
  mutating func parent<Tree: DirectoryLookup>(
    of path: ParsedPath, from start: Inode, in tree: borrowing Tree
  ) throws(Errno) -> (Inode, LastComponent) {
    var directory = path.isAbsolute ? tree.root : start
    guard let last = path.components.last else {
      return path.isAbsolute ? (tree.root, .root) : (start, .dot)
    }
    for component in path.components.dropLast() {
      directory = try step(from: directory, component, follow: true, in: tree)
    }
    guard directory.isDirectory else { throw .notDirectory }
    switch last {
    case .name(let name): return (directory, .name(name))
    case .dot: return (directory, .dot)
    case .dotDot: return (directory, .dotDot)
    }
  }

  /// The inode `path` names. With `followLast` (or a trailing `/`) a final symbolic link
  /// is followed; a trailing `/` on something that is not a directory is ENOTDIR.
  mutating func resolve<Tree: DirectoryLookup>(
    _ path: ParsedPath, from start: Inode, followLast: Bool, in tree: borrowing Tree
  ) throws(Errno) -> Inode {
    let (directory, last) = try parent(of: path, from: start, in: tree)
    let inode: Inode
    switch last {
    case .root: inode = tree.root
    case .dot: inode = directory
    case .dotDot: inode = tree.parent(of: directory)
    case .name(let name):
      inode = try step(from: directory, .name(name), follow: followLast || path.trailingSlash, in: tree)
    }
    if path.trailingSlash && !inode.isDirectory { throw .notDirectory }
    return inode
  }

  /// The inode a symbolic link points to, resolved from the directory holding the link.
  mutating func follow<Tree: DirectoryLookup>(
    _ link: Inode, in directory: Inode, tree: borrowing Tree
  ) throws(Errno) -> Inode {
    links += 1
    guard links <= Self.maximumLinks else { throw .tooManySymbolicLinkLevels }
    link.touchAccessed()  // following a link reads it (Linux `pick_link`)
    return try resolve(try ParsedPath(bytes: link.symbolicLinkTarget), from: directory,
                       followLast: true, in: tree)
  }

  /// Counts one more link followed by a caller that resolves the target itself (`open`
  /// of a final link, which may create the target).
  mutating func countLink() throws(Errno) {
    links += 1
    guard links <= Self.maximumLinks else { throw .tooManySymbolicLinkLevels }
  }

  /// One component below `directory`.
  private mutating func step<Tree: DirectoryLookup>(
    from directory: Inode, _ component: ParsedPath.Component, follow: Bool, in tree: borrowing Tree
  ) throws(Errno) -> Inode {
    guard directory.isDirectory else { throw .notDirectory }
    switch component {
    case .dot: return directory
    case .dotDot: return tree.parent(of: directory)
    case .name(let name):
      guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
      guard let child = tree.child(of: directory, named: name) else { throw .noSuchFileOrDirectory }
      if follow && child.isSymbolicLink { return try self.follow(child, in: directory, tree: tree) }
      return child
    }
  }
}
