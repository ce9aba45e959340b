import Synchronization
import SystemPackage

/// The directory tree: maps normalised paths to inodes and changes the tree.
///
/// A seam like `DescriptorTable`: ErmFS calls only this protocol, so the locked tree can
/// be replaced (e.g. by a lock-free registry) without touching callers. Every method is
/// atomic with respect to every other (that is what makes `rename` atomic for lookups).
protocol PathRegistry: Sendable {
  /// The inode `path` names.
  func lookup(_ path: Path) throws(Errno) -> Inode
  /// Resolves `path` for `open`, creating a regular file with `permissions` when it is
  /// missing and `create` is set. The inode's `openCount` is incremented before the
  /// tree is unlocked, so a concurrent unlink cannot free it under the opener.
  ///
  /// - Returns: the inode and whether it was created.
  func open(_ path: Path, create: Bool, exclusive: Bool,
            permissions: FilePermissions) throws(Errno) -> (inode: Inode, created: Bool)
  /// Creates a directory.
  func makeDirectory(_ path: Path, permissions: FilePermissions) throws(Errno)
  /// Removes an empty directory.
  func removeDirectory(_ path: Path) throws(Errno)
  /// Removes a file's entry; returns the inode (its link count now 0).
  func unlink(_ path: Path) throws(Errno) -> Inode
  /// Moves `source` to `destination` with POSIX replace rules; returns the regular
  /// file that was replaced (its link count now 0), if any.
  func rename(_ source: Path, to destination: Path) throws(Errno) -> Inode?
  /// The entries of a directory, sorted by name (without `.` and `..`).
  func entries(of path: Path) throws(Errno) -> [ErmFS.DirectoryEntry]
  /// Regular files and directories (the root not counted) in the tree.
  var counts: (files: Int, directories: Int) { get }
}

/// The tree behind one mutex. Structure only: it touches inode metadata atomics
/// (link counts, open counts, times) but never an inode's contents lock, so a long
/// compression on close never holds up lookups.
final class LockedPathRegistry: PathRegistry {
  private struct Tree {
    /// Directory inode number -> its entries.
    var children: [UInt64: [FileName: Inode]] = [:]
    var nextNumber: UInt64 = 2
    var files = 0
    var directories = 0
  }

  let root: Inode
  private let tree: Mutex<Tree>

  init(rootPermissions: FilePermissions = [.ownerReadWriteExecute, .groupReadExecute,
                                           .otherReadExecute]) {
    let root = Inode(number: 1, isDirectory: true, permissions: rootPermissions,
                     now: WallClock.now())
    self.root = root
    var tree = Tree()
    tree.children[root.number] = [:]
    self.tree = Mutex(tree)
  }

  // MARK: Walking (tree locked)

  /// The directory that holds `path`'s last component.
  private func parentDirectory(of path: Path, in tree: borrowing Tree) throws(Errno) -> Inode {
    var current = root
    for name in path.components.dropLast() {
      guard let next = tree.children[current.number]?[FileName(name)] else { throw .noSuchFileOrDirectory }
      guard next.isDirectory else { throw .notDirectory }
      current = next
    }
    return current
  }

  private func resolve(_ path: Path, in tree: borrowing Tree) throws(Errno) -> Inode {
    guard let name = path.name else { return root }
    let parent = try parentDirectory(of: path, in: tree)
    guard let inode = tree.children[parent.number]?[FileName(name)] else { throw .noSuchFileOrDirectory }
    if path.requiresDirectory && !inode.isDirectory { throw .notDirectory }
    return inode
  }

  private static func newInode(_ tree: inout Tree, isDirectory: Bool,
                               permissions: FilePermissions, now: Int64) -> Inode {
    let inode = Inode(number: tree.nextNumber, isDirectory: isDirectory,
                      permissions: permissions, now: now)
    tree.nextNumber += 1
    return inode
  }

  // MARK: PathRegistry

  func lookup(_ path: Path) throws(Errno) -> Inode {
    try tree.withLock { (tree) throws(Errno) -> Inode in try resolve(path, in: tree) }
  }

  func open(_ path: Path, create: Bool, exclusive: Bool,
            permissions: FilePermissions) throws(Errno) -> (inode: Inode, created: Bool) {
    try tree.withLock { (tree) throws(Errno) -> (inode: Inode, created: Bool) in
      guard let name = path.name else {
        if create && exclusive { throw .fileExists }
        if create { throw .isDirectory }
        root.openCount.add(1, ordering: .sequentiallyConsistent)
        return (root, false)
      }
      let parent = try parentDirectory(of: path, in: tree)
      if let existing = tree.children[parent.number]?[FileName(name)] {
        if create && exclusive { throw .fileExists }
        if existing.isDirectory && create { throw .isDirectory }
        if path.requiresDirectory && !existing.isDirectory { throw .notDirectory }
        existing.openCount.add(1, ordering: .sequentiallyConsistent)
        return (existing, false)
      }
      guard create else { throw .noSuchFileOrDirectory }
      // `open("/a/new/", O_CREAT)` names a directory that does not exist: Linux says EISDIR.
      if path.requiresDirectory { throw .isDirectory }
      let now = WallClock.now()
      let inode = Self.newInode(&tree, isDirectory: false, permissions: permissions, now: now)
      inode.openCount.add(1, ordering: .sequentiallyConsistent)
      tree.children[parent.number]![FileName(name)] = inode
      tree.files += 1
      parent.touchModified(now)
      return (inode, true)
    }
  }

  func makeDirectory(_ path: Path, permissions: FilePermissions) throws(Errno) {
    try tree.withLock { (tree) throws(Errno) in
      guard let name = path.name else { throw .fileExists }
      let parent = try parentDirectory(of: path, in: tree)
      guard tree.children[parent.number]?[FileName(name)] == nil else { throw .fileExists }
      let now = WallClock.now()
      let inode = Self.newInode(&tree, isDirectory: true, permissions: permissions, now: now)
      tree.children[parent.number]![FileName(name)] = inode
      tree.children[inode.number] = [:]
      tree.directories += 1
      parent.linkCount.add(1, ordering: .sequentiallyConsistent)
      parent.touchModified(now)
    }
  }

  func removeDirectory(_ path: Path) throws(Errno) {
    try tree.withLock { (tree) throws(Errno) in
      guard let name = path.name else { throw .resourceBusy }
      let parent = try parentDirectory(of: path, in: tree)
      guard let inode = tree.children[parent.number]?[FileName(name)] else { throw .noSuchFileOrDirectory }
      guard inode.isDirectory else { throw .notDirectory }
      if path.endsInDot { throw .invalidArgument }  // POSIX: rmdir("d/.") is EINVAL
      guard tree.children[inode.number]?.isEmpty ?? true else { throw .directoryNotEmpty }
      tree.children[parent.number]![FileName(name)] = nil
      tree.children[inode.number] = nil
      tree.directories -= 1
      inode.linkCount.store(0, ordering: .sequentiallyConsistent)
      parent.linkCount.subtract(1, ordering: .sequentiallyConsistent)
      let now = WallClock.now()
      inode.touchChanged(now)
      parent.touchModified(now)
    }
  }

  func unlink(_ path: Path) throws(Errno) -> Inode {
    try tree.withLock { (tree) throws(Errno) -> Inode in
      // Linux answers EISDIR for unlink of a directory (POSIX allows EPERM).
      guard let name = path.name else { throw .isDirectory }
      let parent = try parentDirectory(of: path, in: tree)
      guard let inode = tree.children[parent.number]?[FileName(name)] else { throw .noSuchFileOrDirectory }
      guard !inode.isDirectory else { throw .isDirectory }
      if path.requiresDirectory { throw .notDirectory }
      tree.children[parent.number]![FileName(name)] = nil
      tree.files -= 1
      inode.linkCount.store(0, ordering: .sequentiallyConsistent)
      let now = WallClock.now()
      inode.touchChanged(now)
      parent.touchModified(now)
      return inode
    }
  }

  func rename(_ source: Path, to destination: Path) throws(Errno) -> Inode? {
    try tree.withLock { (tree) throws(Errno) -> Inode? in
      guard let sourceName = source.name, let destinationName = destination.name else {
        throw .resourceBusy  // the root cannot be moved or replaced
      }
      if source.endsInDot || destination.endsInDot { throw .invalidArgument }
      let sourceParent = try parentDirectory(of: source, in: tree)
      guard let moving = tree.children[sourceParent.number]?[FileName(sourceName)] else {
        throw .noSuchFileOrDirectory
      }
      if (source.requiresDirectory || destination.requiresDirectory) && !moving.isDirectory {
        throw .notDirectory
      }
      let destinationParent = try parentDirectory(of: destination, in: tree)
      let existing = tree.children[destinationParent.number]?[FileName(destinationName)]
      if existing === moving { return nil }  // same inode: POSIX says do nothing
      if moving.isDirectory && destination.isStrictlyInside(source) { throw .invalidArgument }
      if let existing {
        if moving.isDirectory {
          guard existing.isDirectory else { throw .notDirectory }
          guard tree.children[existing.number]?.isEmpty ?? true else { throw .directoryNotEmpty }
        } else if existing.isDirectory {
          throw .isDirectory
        }
      }
      let now = WallClock.now()
      if let existing {
        existing.linkCount.store(0, ordering: .sequentiallyConsistent)
        existing.touchChanged(now)
        if existing.isDirectory {
          tree.children[existing.number] = nil
          tree.directories -= 1
          destinationParent.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        } else {
          tree.files -= 1
        }
      }
      tree.children[sourceParent.number]![FileName(sourceName)] = nil
      tree.children[destinationParent.number]![FileName(destinationName)] = moving
      if moving.isDirectory {
        sourceParent.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        destinationParent.linkCount.add(1, ordering: .sequentiallyConsistent)
      }
      moving.touchChanged(now)
      sourceParent.touchModified(now)
      destinationParent.touchModified(now)
      if let existing, !existing.isDirectory { return existing }
      return nil
    }
  }

  func entries(of path: Path) throws(Errno) -> [ErmFS.DirectoryEntry] {
    try tree.withLock { (tree) throws(Errno) -> [ErmFS.DirectoryEntry] in
      let directory = try resolve(path, in: tree)
      guard directory.isDirectory, let children = tree.children[directory.number] else {
        throw .notDirectory
      }
      return children
        .map { ErmFS.DirectoryEntry(name: $0.key.text, inode: $0.value.number, type: $0.value.fileType) }
        .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }  // bytes, like the keys
    }
  }

  var counts: (files: Int, directories: Int) {
    tree.withLock { ($0.files, $0.directories) }
  }
}
