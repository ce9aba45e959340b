import SystemPackage

/// What the namespace rules need from a directory-tree backend, inside whatever makes one
/// operation atomic (the locked backend holds one mutex for the whole operation, path
/// walk included). The rules themselves, with every errno and in the kernel's order, are
/// in the extension below: one place, whatever the backend.
protocol DirectoryTree: DirectoryLookup {
  /// Whether `directory` has no entries.
  func isEmpty(_ directory: Inode) -> Bool
  /// Entries of `directory` with a cookie above `cookie`, in cookie order.
  func entries(of directory: Inode, after cookie: UInt64,
               limit: Int) -> [(cookie: UInt64, name: FileName, inode: Inode)]
  /// A fresh inode number (never reused).
  mutating func allocateNumber() -> UInt64
  /// Adds the entry `name` -> `inode` to `directory` (`name` must be absent). A directory
  /// inode seen for the first time gets an empty entry table whose `..` is `directory`.
  mutating func insert(_ inode: Inode, named name: FileName, in directory: Inode)
  /// Removes the entry `name` from `directory`; returns what it named.
  mutating func remove(_ name: FileName, from directory: Inode) -> Inode?
  /// Makes `parent` the `..` of `directory` (a directory moved by rename).
  mutating func setParent(of directory: Inode, to parent: Inode)
  /// Drops the (empty) entry table of a removed directory.
  mutating func dropDirectory(_ directory: Inode)
  /// Regular files, links and special files (inodes with a link) and directories (the
  /// root not counted).
  var counts: (files: Int, directories: Int) { get }
  mutating func adjustCounts(files: Int, directories: Int)
}

/// What a new inode is.
struct NodeSpec {
  var type: FileType
  var permissions: UInt32
  var owner: Ownership
  var device: UInt64 = 0
  var symbolicLinkTarget: [UInt8] = []
}

/// `rename` flags (`renameat2`).
extension ErmFS {
  public struct RenameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Fail with EEXIST instead of replacing the destination (`RENAME_NOREPLACE`).
    public static let noReplace = RenameFlags(rawValue: 1)
    /// Swap source and destination atomically; both must exist (`RENAME_EXCHANGE`).
    public static let exchange = RenameFlags(rawValue: 2)
  }
}

// MARK: Inode-addressed rules

extension DirectoryTree {
  /// `lookup(parent, name)`.
  func lookup(_ name: FileName, in directory: Inode) throws(Errno) -> Inode {
    guard directory.isDirectory else { throw .notDirectory }
    if name.isDot { return directory }
    if name.isDotDot { return parent(of: directory) }
    guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
    guard let inode = child(of: directory, named: name) else { throw .noSuchFileOrDirectory }
    return inode
  }

  /// Creates an inode of any type under `name` (`mknod`, `mkdir`, `symlink`, `creat`).
  /// A setgid directory passes its group on, and its setgid bit to new directories.
  mutating func makeNode(_ spec: NodeSpec, named name: FileName, in directory: Inode,
                         now: ErmFS.Timestamp) throws(Errno) -> Inode {
    try checkCreatable(name, in: directory)
    var owner = spec.owner
    var permissions = spec.permissions
    if directory.permissions & 0o2000 != 0 {
      owner.groupID = directory.owner.groupID
      if spec.type == .directory { permissions |= 0o2000 }
    }
    let inode = Inode(number: allocateNumber(), type: spec.type, permissions: permissions,
                      owner: owner, device: spec.device,
                      symbolicLinkTarget: spec.symbolicLinkTarget, now: now)
    insert(inode, named: name, in: directory)
    if spec.type == .directory {
      directory.linkCount.add(1, ordering: .sequentiallyConsistent)
      adjustCounts(files: 0, directories: 1)
    } else {
      adjustCounts(files: 1, directories: 0)
    }
    directory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
    directory.touchModified(now)
    return inode
  }

  /// `link`: a new name for an existing inode.
  mutating func link(_ inode: Inode, named name: FileName, in directory: Inode,
                     now: ErmFS.Timestamp) throws(Errno) {
    try checkCreatable(name, in: directory)
    guard !inode.isDirectory else { throw .notPermitted }
    guard inode.linkCount.load(ordering: .sequentiallyConsistent) > 0 else { throw .noSuchFileOrDirectory }
    insert(inode, named: name, in: directory)
    inode.linkCount.add(1, ordering: .sequentiallyConsistent)
    inode.touchChanged(now)
    directory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
    directory.touchModified(now)
  }

  /// `unlink` of a name that is not a directory. `trailingSlash` is the path form's:
  /// `unlink("f/")` is ENOTDIR. Returns the inode, one link fewer.
  mutating func removeFile(named name: FileName, in directory: Inode, trailingSlash: Bool = false,
                           now: ErmFS.Timestamp) throws(Errno) -> Inode {
    let inode = try lookup(name, in: directory)
    guard !inode.isDirectory else { throw .isDirectory }
    if trailingSlash { throw .notDirectory }
    detach(name, inode, from: directory, now: now)
    return inode
  }

  /// `rmdir` of an empty directory. Returns it (its link count now 0).
  mutating func removeDirectory(named name: FileName, in directory: Inode,
                                now: ErmFS.Timestamp) throws(Errno) -> Inode {
    if name.isDot { throw .invalidArgument }
    if name.isDotDot { throw .directoryNotEmpty }
    let inode = try lookup(name, in: directory)
    guard inode.isDirectory else { throw .notDirectory }
    guard isEmpty(inode) else { throw .directoryNotEmpty }
    detach(name, inode, from: directory, now: now)
    return inode
  }

  /// Removes an entry and its link: a directory loses both of its links and its `..`.
  private mutating func detach(_ name: FileName, _ inode: Inode, from directory: Inode,
                               now: ErmFS.Timestamp) {
    _ = remove(name, from: directory)
    directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
    if inode.isDirectory {
      inode.linkCount.store(0, ordering: .sequentiallyConsistent)
      directory.linkCount.subtract(1, ordering: .sequentiallyConsistent)
      dropDirectory(inode)
      adjustCounts(files: 0, directories: -1)
    } else if inode.linkCount.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 {
      adjustCounts(files: -1, directories: 0)
    }
    inode.touchChanged(now)
    directory.touchModified(now)
  }

  /// `renameat2` once both parents are known, in the kernel's order of checks
  /// (`do_renameat2`, `vfs_rename`, `shmem_rename2`). The trailing-slash flags are the
  /// path form's. Returns the inode that lost its name to the move, if any.
  mutating func rename(_ name: FileName, in directory: Inode, to newName: FileName,
                       in newDirectory: Inode, flags: ErmFS.RenameFlags,
                       sourceSlash: Bool = false, destinationSlash: Bool = false,
                       now: ErmFS.Timestamp) throws(Errno) -> Inode? {
    let exchange = flags.contains(.exchange)
    let moving = try lookup(name, in: directory)
    guard newDirectory.isDirectory else { throw .notDirectory }
    guard newName.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
    let target = child(of: newDirectory, named: newName)
    if flags.contains(.noReplace) && target != nil { throw .fileExists }
    if exchange {
      guard let target else { throw .noSuchFileOrDirectory }
      if !target.isDirectory && destinationSlash { throw .notDirectory }
    }
    if !moving.isDirectory && (sourceSlash || (!exchange && destinationSlash)) { throw .notDirectory }
    let trap = ancestorTrap(directory, newDirectory)
    if moving === trap { throw .invalidArgument }
    if let target, target === trap { throw exchange ? .invalidArgument : .directoryNotEmpty }
    if let target, target === moving { return nil }  // two names of one inode: nothing to do
    if let target, !exchange {
      if moving.isDirectory {
        guard target.isDirectory else { throw .notDirectory }
        guard target !== root else { throw .resourceBusy }
      } else if target.isDirectory {
        throw .isDirectory
      }
      if target.isDirectory && !isEmpty(target) { throw .directoryNotEmpty }
    }
    if target == nil && newDirectory.linkCount.load(ordering: .relaxed) == 0 {
      throw .noSuchFileOrDirectory
    }

    if exchange, let target {
      _ = remove(name, from: directory)
      _ = remove(newName, from: newDirectory)
      insert(target, named: name, in: directory)
      insert(moving, named: newName, in: newDirectory)
      if directory !== newDirectory && moving.isDirectory != target.isDirectory {
        let (loses, gains) = moving.isDirectory ? (directory, newDirectory) : (newDirectory, directory)
        loses.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        gains.linkCount.add(1, ordering: .sequentiallyConsistent)
      }
      if moving.isDirectory { setParent(of: moving, to: newDirectory) }
      if target.isDirectory { setParent(of: target, to: directory) }
      target.touchChanged(now)
    } else {
      if let target {
        detach(newName, target, from: newDirectory, now: now)
      }
      _ = remove(name, from: directory)
      insert(moving, named: newName, in: newDirectory)
      directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
      newDirectory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
      if moving.isDirectory && directory !== newDirectory {
        directory.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        newDirectory.linkCount.add(1, ordering: .sequentiallyConsistent)
        setParent(of: moving, to: newDirectory)
      }
    }
    moving.touchChanged(now)
    directory.touchModified(now)
    newDirectory.touchModified(now)
    return exchange ? nil : target
  }

  /// Linux's `lock_rename` trap: when one parent lies below the other, the child of the
  /// upper one on the way down to the lower one. A source equal to it would move a
  /// directory into itself (EINVAL); a destination equal to it is an ancestor of the
  /// source (ENOTEMPTY).
  private func ancestorTrap(_ sourceParent: Inode, _ destinationParent: Inode) -> Inode? {
    if sourceParent === destinationParent { return nil }
    if let step = childOnPath(from: sourceParent, down: destinationParent) { return step }
    return childOnPath(from: destinationParent, down: sourceParent)
  }

  /// The child of `ancestor` that lies on the way to `descendant`, if `ancestor` is one.
  private func childOnPath(from ancestor: Inode, down descendant: Inode) -> Inode? {
    var current = descendant
    while current !== root {
      let up = parent(of: current)
      if up === ancestor { return current }
      current = up
    }
    return nil
  }
}
