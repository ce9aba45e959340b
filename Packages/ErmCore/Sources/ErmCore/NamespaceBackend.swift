import SystemPackage

/// The namespace as `ErmFS` calls it: each operation runs the shared rules
/// (`Namespace.swift`, `PathOperations.swift`, `PathWalk.swift`) as one atomic step of
/// one backend, `LockedNamespace` or `LocklessNamespace`. Called only inside
/// `ErmFS.withBackend`, with the thread pinned in the file system's epoch domain.
protocol Namespace: AnyObject, Sendable {
  var root: Inode { get }

  // Paths.
  func resolve(_ path: ParsedPath, followLast: Bool) throws(Errno) -> Inode
  /// Takes the open reference (`Inode.retainOpen`) on what it returns.
  func open(_ path: ParsedPath, _ request: OpenRequest,
            now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool)
  func makeNode(_ spec: NodeSpec, at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno)
  func removeFile(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno)
  func removeDirectory(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno)
  func rename(_ source: ParsedPath, to destination: ParsedPath, flags: ErmFS.RenameFlags,
              now: ErmFS.Timestamp) throws(Errno)
  func link(_ existing: ParsedPath, to newPath: ParsedPath, now: ErmFS.Timestamp) throws(Errno)
  /// `readdir`: the directory at `path` (a final link followed), marked accessed, and its
  /// entries in cookie order.
  func listing(of path: ParsedPath) throws(Errno) -> [ErmFS.DirectoryEntry]

  // Inodes (FUSE).
  func lookup(_ name: FileName, in directory: Inode) throws(Errno) -> Inode
  func makeNode(_ spec: NodeSpec, named name: FileName, in directory: Inode, now: ErmFS.Timestamp,
                hold: CreatorHold) throws(Errno) -> Inode
  func link(_ inode: Inode, named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno)
  func removeFile(named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno)
  func removeDirectory(named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno)
  func rename(_ name: FileName, in directory: Inode, to newName: FileName, in newDirectory: Inode,
              flags: ErmFS.RenameFlags, now: ErmFS.Timestamp) throws(Errno)
  /// Takes the open reference on what it returns.
  func create(_ name: FileName, in directory: Inode, spec: NodeSpec, exclusive: Bool,
              now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool)
  /// `.` and `..` (cookies 1 and 2), then the entries after `cookie`, at most `limit`.
  func entries(of directory: Inode, after cookie: UInt64, limit: Int) -> [ErmFS.DirectoryEntry]

  var counts: (files: Int, directories: Int) { get }
  /// Directories with an entry table (the root included) and the entries they hold, as
  /// the backend stores them (leak tests compare them with a baseline).
  var sizes: (directories: Int, entries: Int) { get }
  /// The whole tree, for a switch of locking mode (called with no call in flight).
  func image() -> TreeImage
  /// Lets go of what this backend keeps in the inodes, which a switch of mode hands to the
  /// other backend (called with no call in flight, after `image`).
  func releaseInodes()
}

/// How an operation uses the tree: the locked backend shares its lock for `.lookup` and
/// takes it alone otherwise; the lock-free backend takes its structure lock only for
/// `.restructure`.
enum TreeAccess {
  /// Reads only.
  case lookup
  /// Adds or removes one entry (create, link, unlink): atomic by itself.
  case change
  /// `rename`, `rmdir`: an entry moves or goes together with checks on other entries.
  case restructure
}

/// A backend that runs the shared rules on its own `DirectoryTree`.
protocol TreeNamespace: Namespace {
  associatedtype Tree: DirectoryTree
  /// Runs `body` as one step that only reads.
  func reading<R>(_ body: (borrowing Tree) throws(Errno) -> R) throws(Errno) -> R
  /// Runs `body` as one step that changes the tree.
  func changing<R>(_ access: TreeAccess, _ body: (inout Tree) throws(Errno) -> R) throws(Errno) -> R
}

extension TreeNamespace {
  func resolve(_ path: ParsedPath, followLast: Bool) throws(Errno) -> Inode {
    try reading { (tree) throws(Errno) in try tree.resolve(path, followLast: followLast) }
  }

  func open(_ path: ParsedPath, _ request: OpenRequest,
            now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool) {
    if request.create == nil {
      return (try reading { (tree) throws(Errno) in try tree.openExisting(path, request) }, false)
    }
    return try changing(.change) { (tree) throws(Errno) in try tree.open(path, request, now: now) }
  }

  func makeNode(_ spec: NodeSpec, at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    _ = try changing(.change) { (tree) throws(Errno) in try tree.makeNode(spec, at: path, now: now) }
  }

  func removeFile(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.change) { (tree) throws(Errno) in try tree.removeFile(at: path, now: now) }
  }

  func removeDirectory(at path: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.restructure) { (tree) throws(Errno) in try tree.removeDirectory(at: path, now: now) }
  }

  func rename(_ source: ParsedPath, to destination: ParsedPath, flags: ErmFS.RenameFlags,
              now: ErmFS.Timestamp) throws(Errno) {
    try changing(.restructure) { (tree) throws(Errno) in
      try tree.rename(source, to: destination, flags: flags, now: now)
    }
  }

  func link(_ existing: ParsedPath, to newPath: ParsedPath, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.change) { (tree) throws(Errno) in try tree.link(existing, to: newPath, now: now) }
  }

  func listing(of path: ParsedPath) throws(Errno) -> [ErmFS.DirectoryEntry] {
    try reading { (tree) throws(Errno) -> [ErmFS.DirectoryEntry] in
      let directory = try tree.resolve(path, followLast: true)
      guard directory.isDirectory else { throw .notDirectory }
      directory.touchAccessed()
      return tree.entries(of: directory, after: 0, limit: .max).map {
        ErmFS.DirectoryEntry(fileName: $0.name, inode: $0.inode.number, type: $0.inode.type, cookie: $0.cookie)
      }
    }
  }

  func lookup(_ name: FileName, in directory: Inode) throws(Errno) -> Inode {
    try reading { (tree) throws(Errno) in try tree.lookup(name, in: directory) }
  }

  func makeNode(_ spec: NodeSpec, named name: FileName, in directory: Inode, now: ErmFS.Timestamp,
                hold: CreatorHold) throws(Errno) -> Inode {
    try changing(.change) { (tree) throws(Errno) in
      try tree.makeNode(spec, named: name, in: directory, now: now, hold: hold)
    }
  }

  func link(_ inode: Inode, named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.change) { (tree) throws(Errno) in try tree.link(inode, named: name, in: directory, now: now) }
  }

  func removeFile(named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.change) { (tree) throws(Errno) in try tree.removeFile(named: name, in: directory, now: now) }
  }

  func removeDirectory(named name: FileName, in directory: Inode, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.restructure) { (tree) throws(Errno) in
      try tree.removeDirectory(named: name, in: directory, now: now)
    }
  }

  func rename(_ name: FileName, in directory: Inode, to newName: FileName, in newDirectory: Inode,
              flags: ErmFS.RenameFlags, now: ErmFS.Timestamp) throws(Errno) {
    try changing(.restructure) { (tree) throws(Errno) in
      try tree.rename(name, in: directory, to: newName, in: newDirectory, flags: flags, now: now)
    }
  }

  func create(_ name: FileName, in directory: Inode, spec: NodeSpec, exclusive: Bool,
              now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool) {
    try changing(.change) { (tree) throws(Errno) in
      try tree.create(name, in: directory, spec: spec, exclusive: exclusive, now: now)
    }
  }

  func entries(of directory: Inode, after cookie: UInt64, limit: Int) -> [ErmFS.DirectoryEntry] {
    let listed = try? reading { (tree) throws(Errno) -> [ErmFS.DirectoryEntry] in
      var out: [ErmFS.DirectoryEntry] = []
      if cookie < 1 && out.count < limit {
        out.append(ErmFS.DirectoryEntry(fileName: ".", inode: directory.number, type: .directory, cookie: 1))
      }
      if cookie < 2 && out.count < limit {
        let up = tree.parent(of: directory)
        out.append(ErmFS.DirectoryEntry(fileName: "..", inode: up.number, type: .directory, cookie: 2))
      }
      for entry in tree.entries(of: directory, after: max(cookie, 2), limit: limit - out.count) {
        out.append(ErmFS.DirectoryEntry(fileName: entry.name, inode: entry.inode.number,
                                        type: entry.inode.type, cookie: entry.cookie))
      }
      return out
    }
    return listed ?? []
  }
}

/// The whole tree as plain values: what a switch of locking mode carries from one backend
/// to the other. Entries keep their order (cookies are handed out again from 3: no
/// listing can be in progress, since a switch needs every descriptor closed).
struct TreeImage {
  struct Directory {
    let inode: Inode
    let parent: Inode
    /// In cookie order.
    var entries: [(name: FileName, inode: Inode)]
  }

  let root: Inode
  /// Every directory, the root included.
  var directories: [Directory]
  var nextNumber: UInt64
  var files: Int
  var directoryCount: Int
}
