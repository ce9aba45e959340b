import Synchronization
import SystemPackage

/// The directory tree behind one mutex: every namespace operation, path walk included,
/// runs under one hold of it, which makes `rename` atomic for lookups and lets the rules
/// check the tree against one consistent state. Structure only: it touches inode
/// metadata atomics but never a contents lock, so a long compression never holds up a
/// lookup (docs/decisions/core-locking.md).
final class LockedNamespace: Sendable {
  let root: Inode
  private let tree: Mutex<LockedTree>

  init(root: Inode) {
    self.root = root
    tree = Mutex(LockedTree(root: root))
  }

  /// Runs `body` with the tree locked.
  func withTree<R>(_ body: (inout LockedTree) throws(Errno) -> R) throws(Errno) -> R {
    try tree.withLock { (tree) throws(Errno) -> R in try body(&tree) }
  }

  /// Runs `body` with the tree locked, for reading.
  func reading<R>(_ body: (borrowing LockedTree) -> R) -> R {
    tree.withLock { tree in body(tree) }
  }

  var counts: (files: Int, directories: Int) { tree.withLock { $0.counts } }
}

/// The locked backend's tree: one entry table per directory, keyed by inode number.
struct LockedTree: DirectoryTree {
  private struct Directory {
    let inode: Inode
    var parent: Inode
    var entries = DirectoryEntries()
  }

  let root: Inode
  private var directories: [UInt64: Directory] = [:]
  private var nextNumber: UInt64 = 2
  private var fileCount = 0
  private var directoryCount = 0

  init(root: Inode) {
    self.root = root
    directories[root.number] = Directory(inode: root, parent: root)
  }

  func child(of directory: Inode, named name: FileName) -> Inode? {
    directories[directory.number]?.entries[name]?.inode
  }

  func parent(of directory: Inode) -> Inode {
    directories[directory.number]?.parent ?? root
  }

  func isEmpty(_ directory: Inode) -> Bool {
    directories[directory.number]?.entries.isEmpty ?? true
  }

  func entries(of directory: Inode, after cookie: UInt64,
               limit: Int) -> [(cookie: UInt64, name: FileName, inode: Inode)] {
    directories[directory.number]?.entries.list(after: cookie, limit: limit) ?? []
  }

  mutating func allocateNumber() -> UInt64 {
    defer { nextNumber += 1 }
    return nextNumber
  }

  mutating func insert(_ inode: Inode, named name: FileName, in directory: Inode) {
    directories[directory.number]!.entries.insert(inode, named: name)
    if inode.isDirectory && directories[inode.number] == nil {
      directories[inode.number] = Directory(inode: inode, parent: directory)
    }
  }

  mutating func remove(_ name: FileName, from directory: Inode) -> Inode? {
    directories[directory.number]?.entries.remove(name)
  }

  mutating func setParent(of directory: Inode, to parent: Inode) {
    directories[directory.number]?.parent = parent
  }

  mutating func dropDirectory(_ directory: Inode) {
    directories[directory.number] = nil
  }

  var counts: (files: Int, directories: Int) { (fileCount, directoryCount) }

  mutating func adjustCounts(files: Int, directories: Int) {
    fileCount += files
    directoryCount += directories
  }
}
