import SystemPackage

/// A path as text, split into components but NOT normalised: `.`, `..` and symbolic
/// links are resolved by walking the tree, as Linux does, so `/missing/../f` is ENOENT and
/// `/file/..` is ENOTDIR.
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
    var text = text
    let parsed = text.withUTF8 { (bytes) -> Result<ParsedPath, Errno> in
      do throws(Errno) { return .success(try ParsedPath(bytes)) } catch { return .failure(error) }
    }
    self = try parsed.get()
  }

  /// Splits a path given as bytes (a symbolic link's target).
  init(bytes: [UInt8]) throws(Errno) {
    let parsed = bytes.withUnsafeBufferPointer { (bytes) -> Result<ParsedPath, Errno> in
      do throws(Errno) { return .success(try ParsedPath(bytes)) } catch { return .failure(error) }
    }
    self = try parsed.get()
  }

  /// Splits at every `/`, as swift-system's `FilePath` does on Linux (runs of slashes are
  /// one separator; `.` and `..` are kept as components); `ParsedPathTests` checks that
  /// the two agree. Done by hand because `FilePath`'s component view cost about 40% of a
  /// `stat` in the lookup benchmark (docs/bench/ermcore-lockless.md).
  private init(_ bytes: UnsafeBufferPointer<UInt8>) throws(Errno) {
    guard !bytes.isEmpty else { throw .noSuchFileOrDirectory }
    guard !bytes.contains(0) else { throw .invalidArgument }
    guard bytes.count <= ParsedPath.maximumLength else { throw .fileNameTooLong }
    let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
    isAbsolute = bytes[0] == slash
    trailingSlash = bytes[bytes.count - 1] == slash
    // One allocation for the components: growing the array from empty reallocated it at
    // the second component (about 7% of a create/unlink cycle in callgrind).
    var separators = 0
    for byte in bytes where byte == slash { separators += 1 }
    components = []
    components.reserveCapacity(separators + 1)
    var start = 0
    for end in 0...bytes.count where end == bytes.count || bytes[end] == slash {
      defer { start = end + 1 }
      switch end - start {
      case 0: continue
      case 1 where bytes[start] == dot: components.append(.dot)
      case 2 where bytes[start] == dot && bytes[start + 1] == dot: components.append(.dotDot)
      default: components.append(.name(FileName(bytes: Array(bytes[start..<end]))))
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

/// An inode a walk passes through, not retained: valid while the operation that found it
/// runs (the locked tree holds its lock; the lock-free tree is pinned and retires what it
/// removes). So a walk through shared directories writes no reference count: retaining
/// the root and each directory on the way wrote to counts that every thread walking the
/// same tree bounces between caches (it halved lookups per CPU-second at 2 threads).
struct InodeHandle: @unchecked Sendable {
  let unmanaged: Unmanaged<Inode>

  init(_ inode: Inode) { unmanaged = .passUnretained(inode) }

  /// The inode, retained (what outlives the walk).
  var inode: Inode { unmanaged.takeUnretainedValue() }

  @inline(__always)
  func with<R>(_ body: (Inode) -> R) -> R { unmanaged._withUnsafeGuaranteedRef(body) }

  var isDirectory: Bool { with { $0.isDirectory } }
  var isSymbolicLink: Bool { with { $0.isSymbolicLink } }

  static func === (a: InodeHandle, b: InodeHandle) -> Bool { a.unmanaged.toOpaque() == b.unmanaged.toOpaque() }
}

/// What a path walk needs from a directory tree.
protocol DirectoryLookup {
  var root: Inode { get }
  /// `root` without retaining it.
  var rootHandle: InodeHandle { get }
  /// The inode `name` names in `directory` (a directory), if any.
  func child(of directory: Inode, named name: FileName) -> Inode?
  /// `..` of `directory`; the root's is the root.
  func parent(of directory: Inode) -> Inode
  /// `child(of:named:)` without retaining anything (the walk's form).
  func childHandle(of directory: InodeHandle, named name: FileName) -> InodeHandle?
  /// `parent(of:)` without retaining anything.
  func parentHandle(of directory: InodeHandle) -> InodeHandle
}

extension DirectoryLookup {
  var rootHandle: InodeHandle { InodeHandle(root) }

  // A tree that can only hand out retained inodes (the locked one: its lock is held for
  // the whole walk, so they stay valid as handles).
  func childHandle(of directory: InodeHandle, named name: FileName) -> InodeHandle? {
    directory.with { child(of: $0, named: name) }.map { InodeHandle($0) }
  }

  func parentHandle(of directory: InodeHandle) -> InodeHandle {
    InodeHandle(directory.with { parent(of: $0) })
  }
}

/// Linux's path walk (fs/namei.c), the one place its rules live: every component but
/// the last must resolve to a directory (ENOENT when missing, ENOTDIR when not a
/// directory); `..` goes up the tree, never above the root; symbolic links in the middle
/// of a path are always followed, the last one only when the call says so (or the path
/// ends in `/`); more than 40 links in one walk is ELOOP; a component over 255 bytes is
/// ENAMETOOLONG when the walk reaches it.
///
/// The tree is passed in (borrowed) to each call rather than stored, so a walk inside a
/// mutating operation of a value-type tree never copies it. Inside, the walk holds
/// `InodeHandle`s; only what it returns is retained.
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
    let (directory, last) = try parentHandle(of: path, from: InodeHandle(start), in: tree)
    return (directory.inode, last)
  }

  /// The inode `path` names. With `followLast` (or a trailing `/`) a final symbolic link
  /// is followed; a trailing `/` on something that is not a directory is ENOTDIR.
  mutating func resolve<Tree: DirectoryLookup>(
    _ path: ParsedPath, from start: Inode, followLast: Bool, in tree: borrowing Tree
  ) throws(Errno) -> Inode {
    try resolveHandle(path, from: InodeHandle(start), followLast: followLast, in: tree).inode
  }

  /// Counts one more link followed by a caller that resolves the target itself (`open`
  /// of a final link, which may create the target).
  mutating func countLink() throws(Errno) {
    links += 1
    guard links <= Self.maximumLinks else { throw .tooManySymbolicLinkLevels }
  }

  /// `parent(of:from:in:)` returning a handle.
  mutating func parentHandle<Tree: DirectoryLookup>(
    of path: ParsedPath, from start: InodeHandle, in tree: borrowing Tree
  ) throws(Errno) -> (InodeHandle, LastComponent) {
    let root = tree.rootHandle
    var directory = path.isAbsolute ? root : start
    guard let last = path.components.last else {
      return path.isAbsolute ? (root, .root) : (start, .dot)
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

  private mutating func resolveHandle<Tree: DirectoryLookup>(
    _ path: ParsedPath, from start: InodeHandle, followLast: Bool, in tree: borrowing Tree
  ) throws(Errno) -> InodeHandle {
    let (directory, last) = try parentHandle(of: path, from: start, in: tree)
    let inode: InodeHandle
    switch last {
    case .root: inode = tree.rootHandle
    case .dot: inode = directory
    case .dotDot: inode = tree.parentHandle(of: directory)
    case .name(let name):
      inode = try step(from: directory, .name(name), follow: followLast || path.trailingSlash, in: tree)
    }
    if path.trailingSlash && !inode.isDirectory { throw .notDirectory }
    return inode
  }

  /// The inode a symbolic link points to, resolved from the directory holding the link.
  private mutating func follow<Tree: DirectoryLookup>(
    _ link: InodeHandle, in directory: InodeHandle, tree: borrowing Tree
  ) throws(Errno) -> InodeHandle {
    links += 1
    guard links <= Self.maximumLinks else { throw .tooManySymbolicLinkLevels }
    let target = link.with { link -> [UInt8] in
      link.touchAccessed()  // following a link reads it (Linux `pick_link`)
      return link.symbolicLinkTarget
    }
    return try resolveHandle(try ParsedPath(bytes: target), from: directory, followLast: true, in: tree)
  }

  /// One component below `directory`.
  private mutating func step<Tree: DirectoryLookup>(
    from directory: InodeHandle, _ component: ParsedPath.Component, follow: Bool, in tree: borrowing Tree
  ) throws(Errno) -> InodeHandle {
    guard directory.isDirectory else { throw .notDirectory }
    switch component {
    case .dot: return directory
    case .dotDot: return tree.parentHandle(of: directory)
    case .name(let name):
      guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
      guard let child = tree.childHandle(of: directory, named: name) else { throw .noSuchFileOrDirectory }
      if follow && child.isSymbolicLink { return try self.follow(child, in: directory, tree: tree) }
      return child
    }
  }
}
