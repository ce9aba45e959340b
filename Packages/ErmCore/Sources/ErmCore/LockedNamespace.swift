import SystemPackage

/// The locked mode's directory tree behind one reader-writer lock: every namespace
/// operation, path walk included, runs under one hold of it (shared for lookups, alone
/// for changes), which makes `rename` atomic for lookups and lets the rules check the tree
/// against one consistent state. Structure only: it touches inode metadata atomics but
/// never a contents lock while it holds its own, so a long compression never holds up a
/// lookup, and inodes that lost their last name are released after the lock is let go
/// (docs/decisions/core-locking.md).
final class LockedNamespace: TreeNamespace {
  let root: Inode
  private let tree: ReaderWriterLock<LockedTree>
  private let lifetime: InodeLifetime

  init(root: Inode, lifetime: InodeLifetime) {
    self.root = root
    self.lifetime = lifetime
    tree = ReaderWriterLock(LockedTree(root: root))
  }

  /// A tree carried over from the other backend (`ErmFS.setLocklessMode`).
  init(image: TreeImage, lifetime: InodeLifetime) {
    root = image.root
    self.lifetime = lifetime
    tree = ReaderWriterLock(LockedTree(image: image))
  }

  func reading<R>(_ body: (borrowing LockedTree) throws(Errno) -> R) throws(Errno) -> R {
    try tree.reading { (tree) throws(Errno) -> R in try body(tree) }
  }

  func changing<R>(_ access: TreeAccess, _ body: (inout LockedTree) throws(Errno) -> R) throws(Errno) -> R {
    let (result, orphans) = tree.writing { (tree) -> (Result<R, Errno>, [Inode]) in
      let result: Result<R, Errno>
      do throws(Errno) { result = .success(try body(&tree)) } catch { result = .failure(error) }
      return (result, tree.takeOrphans())
    }
    for inode in orphans { lifetime.release(inode) }
    return try result.get()
  }

  var counts: (files: Int, directories: Int) { tree.reading { $0.counts } }

  var sizes: (directories: Int, entries: Int) { tree.reading { $0.sizes } }

  func image() -> TreeImage { tree.reading { $0.image() } }

  func releaseInodes() {}  // it keeps nothing in them
}

/// The locked backend's tree: one entry table per directory, keyed by inode number.
struct LockedTree: DirectoryTree, Sendable {
  private struct Directory: Sendable {
    let inode: Inode
    var parent: Inode
    var entries = DirectoryEntries()
  }

  let root: Inode
  private var directories: [UInt64: Directory] = [:]
  private var nextNumber: UInt64 = 2
  private var fileCount = 0
  private var directoryCount = 0
  /// Inodes that lost their last name in the current operation, released after it.
  private var orphans: [Inode] = []

  init(root: Inode) {
    self.root = root
    directories[root.number] = Directory(inode: root, parent: root)
  }

  init(image: TreeImage) {
    root = image.root
    for directory in image.directories {
      var entries = DirectoryEntries()
      for entry in directory.entries { entries.insert(entry.inode, named: entry.name) }
      directories[directory.inode.number] = Directory(inode: directory.inode, parent: directory.parent,
                                                      entries: entries)
    }
    nextNumber = image.nextNumber
    fileCount = image.files
    directoryCount = image.directoryCount
  }

  func image() -> TreeImage {
    TreeImage(root: root,
              directories: directories.values.map { directory in
                TreeImage.Directory(inode: directory.inode, parent: directory.parent,
                                    entries: directory.entries.list(after: 0, limit: .max).map { ($0.name, $0.inode) })
              },
              nextNumber: nextNumber, files: fileCount, directoryCount: directoryCount)
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

  // Under the lock the rules have just checked the tree, so these changes cannot find it
  // changed; they check anyway rather than corrupt it.

  mutating func attach(_ inode: Inode, named name: FileName, in directory: Inode) throws(Errno) {
    guard directories[directory.number] != nil else { throw .noSuchFileOrDirectory }
    guard directories[directory.number]!.entries[name] == nil else { throw .fileExists }
    insert(inode, named: name, in: directory)
  }

  mutating func detach(_ name: FileName, naming inode: Inode, from directory: Inode) -> Bool {
    guard child(of: directory, named: name) === inode else { return false }
    directories[directory.number]!.entries.remove(name)
    return true
  }

  mutating func detachEmptyDirectory(_ name: FileName, naming child: Inode, from directory: Inode) -> Bool {
    guard isEmpty(child), self.child(of: directory, named: name) === child else { return false }
    directories[directory.number]!.entries.remove(name)
    directories[child.number] = nil
    return true
  }

  mutating func move(_ name: FileName, naming moving: Inode, in directory: Inode,
                     to newName: FileName, replacing target: Inode?, in newDirectory: Inode,
                     exchange: Bool) -> Bool {
    guard child(of: directory, named: name) === moving,
          child(of: newDirectory, named: newName) === target else { return false }
    if let target, target.isDirectory, !exchange {
      guard isEmpty(target) else { return false }
      directories[target.number] = nil
    }
    directories[directory.number]!.entries.remove(name)
    if target != nil { directories[newDirectory.number]!.entries.remove(newName) }
    if exchange, let target {
      insert(target, named: name, in: directory)
      if target.isDirectory { directories[target.number]?.parent = directory }
    }
    insert(moving, named: newName, in: newDirectory)
    if moving.isDirectory { directories[moving.number]?.parent = newDirectory }
    return true
  }

  private mutating func insert(_ inode: Inode, named name: FileName, in directory: Inode) {
    directories[directory.number]!.entries.insert(inode, named: name)
    if inode.isDirectory && directories[inode.number] == nil {
      directories[inode.number] = Directory(inode: inode, parent: directory)
    }
  }

  mutating func orphaned(_ inode: Inode) { orphans.append(inode) }

  mutating func takeOrphans() -> [Inode] {
    guard !orphans.isEmpty else { return [] }
    defer { orphans = [] }
    return orphans
  }

  var counts: (files: Int, directories: Int) { (fileCount, directoryCount) }

  var sizes: (directories: Int, entries: Int) {
    (directories.count, directories.values.reduce(0) { $0 + $1.entries.count })
  }

  mutating func adjustCounts(files: Int, directories: Int) {
    fileCount += files
    directoryCount += directories
  }
}
