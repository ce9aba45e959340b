import SystemPackage

/// What the namespace rules need from a directory-tree backend. The rules themselves, with
/// every errno and in the kernel's order, are in the extensions below and in
/// `PathOperations.swift`: one place, whatever the backend.
///
/// Each requirement is atomic on its own. The locked backend runs a whole rule under one
/// lock, so its changes never fail after the checks; the lock-free backend runs the checks
/// on a tree that others change meanwhile, so its changes re-check what they change
/// (`attach` that the name is still absent, `detach` that it still names the inode the
/// rule checked) and the rules check again when a change says the tree moved on
/// (docs/decisions/lockless-core.md).
protocol DirectoryTree: DirectoryLookup {
  /// Whether `directory` has no entries (lock-free backend: none that is not on its way
  /// out; `detachEmptyDirectory` decides for good).
  func isEmpty(_ directory: Inode) -> Bool
  /// Entries of `directory` with a cookie above `cookie`, in cookie order.
  func entries(of directory: Inode, after cookie: UInt64,
               limit: Int) -> [(cookie: UInt64, name: FileName, inode: Inode)]
  /// A fresh inode number (never reused).
  mutating func allocateNumber() -> UInt64
  /// Adds the entry `name` -> `inode` to `directory` if `name` is absent and `directory`
  /// has not been removed. A directory inode gets an empty entry table whose `..` is
  /// `directory`, before anyone can reach it.
  ///
  /// - Throws: ENOENT (`directory` was removed), EEXIST.
  mutating func attach(_ inode: Inode, named name: FileName, in directory: Inode) throws(Errno)
  /// Removes the entry `name` if it still names `inode` (not a directory); false when it
  /// does not any more (the caller looks again).
  mutating func detach(_ name: FileName, naming inode: Inode, from directory: Inode) -> Bool
  /// `rmdir`'s change: if the directory `child` has no entries, marks it removed (nothing
  /// can be added to it any more), drops its entry table and removes `name` from
  /// `directory`. False when `child` is not empty.
  mutating func detachEmptyDirectory(_ name: FileName, naming child: Inode, from directory: Inode) -> Bool
  /// `rename`'s change, atomic for lookups (each of the two names names something
  /// throughout): `newName` in `newDirectory` comes to name `moving`, replacing `target`
  /// (what it named when the caller checked, nil for nothing); `name` in `directory` then
  /// names `target` (`exchange`) or nothing. A directory that moves gets its new `..`; a
  /// replaced directory must still be empty and is removed as `rmdir` removes one.
  /// False when either entry changed since the caller checked (the caller checks again).
  mutating func move(_ name: FileName, naming moving: Inode, in directory: Inode,
                     to newName: FileName, replacing target: Inode?, in newDirectory: Inode,
                     exchange: Bool) -> Bool
  /// `inode` lost its last name: its names' reference must be dropped (the locked backend
  /// does it after letting go of its lock).
  mutating func orphaned(_ inode: Inode)
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

/// What a creating call holds on the inode it made when it returns.
enum CreatorHold {
  /// Nothing: the names hold it.
  case none
  /// An open file description (`open` with `O_CREAT`, FUSE `create`): counted open.
  case open
  /// A reference the caller drops once it has remembered the inode for the kernel.
  case reference
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
  /// Everything the new entry changes is counted before the entry can be seen, so a
  /// removal racing it never counts below zero.
  mutating func makeNode(_ spec: NodeSpec, named name: FileName, in directory: Inode,
                         now: ErmFS.Timestamp, hold: CreatorHold = .none) throws(Errno) -> Inode {
    try checkCreatable(name, in: directory)
    var owner = spec.owner
    var permissions = spec.permissions
    if directory.permissions & 0o2000 != 0 {
      owner.groupID = directory.owner.groupID
      if spec.type == .directory { permissions |= 0o2000 }
    }
    let inode = Inode(number: allocateNumber(), type: spec.type, permissions: permissions,
                      owner: owner, device: spec.device,
                      symbolicLinkTarget: spec.symbolicLinkTarget, now: now,
                      holds: hold == .none ? 0 : 1)
    if hold == .open { inode.openCount.store(1, ordering: .sequentiallyConsistent) }
    let isDirectory = spec.type == .directory
    if isDirectory { directory.linkCount.add(1, ordering: .sequentiallyConsistent) }
    adjustCounts(files: isDirectory ? 0 : 1, directories: isDirectory ? 1 : 0)
    directory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
    do throws(Errno) {
      try attach(inode, named: name, in: directory)
    } catch {
      // Only the lock-free backend gets here: the name appeared or the directory went
      // since the checks. The inode was never seen; nothing else refers to it.
      if isDirectory { directory.linkCount.subtract(1, ordering: .sequentiallyConsistent) }
      adjustCounts(files: isDirectory ? 0 : -1, directories: isDirectory ? -1 : 0)
      directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
      throw error
    }
    directory.touchModified(now)
    return inode
  }

  /// `link`: a new name for an existing inode.
  mutating func link(_ inode: Inode, named name: FileName, in directory: Inode,
                     now: ErmFS.Timestamp) throws(Errno) {
    try checkCreatable(name, in: directory)
    guard !inode.isDirectory else { throw .notPermitted }
    guard inode.addLinkIfLinked() else { throw .noSuchFileOrDirectory }
    directory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
    do throws(Errno) {
      try attach(inode, named: name, in: directory)
    } catch {
      directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
      // Its other names may have gone meanwhile (lock-free backend): then this was the last.
      if inode.dropLink() {
        adjustCounts(files: -1, directories: 0)
        orphaned(inode)
      }
      throw error
    }
    inode.touchChanged(now)
    directory.touchModified(now)
  }

  /// `unlink` of a name that is not a directory. `trailingSlash` is the path form's:
  /// `unlink("f/")` is ENOTDIR.
  mutating func removeFile(named name: FileName, in directory: Inode, trailingSlash: Bool = false,
                           now: ErmFS.Timestamp) throws(Errno) {
    while true {
      let inode = try lookup(name, in: directory)
      guard !inode.isDirectory else { throw .isDirectory }
      if trailingSlash { throw .notDirectory }
      if detach(name, naming: inode, from: directory) {
        unlinked(inode, from: directory, now: now)
        return
      }
    }
  }

  /// `rmdir` of an empty directory.
  mutating func removeDirectory(named name: FileName, in directory: Inode,
                                now: ErmFS.Timestamp) throws(Errno) {
    if name.isDot { throw .invalidArgument }
    if name.isDotDot { throw .directoryNotEmpty }
    let inode = try lookup(name, in: directory)
    guard inode.isDirectory else { throw .notDirectory }
    guard detachEmptyDirectory(name, naming: inode, from: directory) else { throw .directoryNotEmpty }
    unlinked(inode, from: directory, now: now)
  }

  /// What removing an entry changes besides the entry itself: the directory's size and
  /// times, the counts, and the inode's links (a directory loses both of its own and its
  /// `..` link to the parent). An inode left without a name is orphaned.
  private mutating func unlinked(_ inode: Inode, from directory: Inode, now: ErmFS.Timestamp) {
    directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
    if inode.isDirectory {
      // Subtracted, not stored: a create racing the removal may have counted itself.
      inode.linkCount.subtract(2, ordering: .sequentiallyConsistent)
      directory.linkCount.subtract(1, ordering: .sequentiallyConsistent)
      adjustCounts(files: 0, directories: -1)
      orphaned(inode)
    } else if inode.dropLink() {
      adjustCounts(files: -1, directories: 0)
      orphaned(inode)
    }
    inode.touchChanged(now)
    directory.touchModified(now)
  }

  /// `renameat2` once both parents are known, in the kernel's order of checks
  /// (`do_renameat2`, `vfs_rename`, `shmem_rename2`). The trailing-slash flags are the
  /// path form's.
  mutating func rename(_ name: FileName, in directory: Inode, to newName: FileName,
                       in newDirectory: Inode, flags: ErmFS.RenameFlags,
                       sourceSlash: Bool = false, destinationSlash: Bool = false,
                       now: ErmFS.Timestamp) throws(Errno) {
    let exchange = flags.contains(.exchange)
    var moving: Inode
    var target: Inode?
    repeat {
      moving = try lookup(name, in: directory)
      guard newDirectory.isDirectory else { throw .notDirectory }
      guard newName.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
      target = child(of: newDirectory, named: newName)
      if flags.contains(.noReplace) && target != nil { throw .fileExists }
      if exchange {
        guard let target else { throw .noSuchFileOrDirectory }
        if !target.isDirectory && destinationSlash { throw .notDirectory }
      }
      if !moving.isDirectory && (sourceSlash || (!exchange && destinationSlash)) { throw .notDirectory }
      let trap = ancestorTrap(directory, newDirectory)
      if moving === trap { throw .invalidArgument }
      if let target, target === trap { throw exchange ? .invalidArgument : .directoryNotEmpty }
      if let target, target === moving { return }  // two names of one inode: nothing to do
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
    } while !move(name, naming: moving, in: directory, to: newName, replacing: target,
                  in: newDirectory, exchange: exchange)

    if exchange, let target {
      if directory !== newDirectory && moving.isDirectory != target.isDirectory {
        let (loses, gains) = moving.isDirectory ? (directory, newDirectory) : (newDirectory, directory)
        loses.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        gains.linkCount.add(1, ordering: .sequentiallyConsistent)
      }
      target.touchChanged(now)
    } else {
      if let target { unlinked(target, from: newDirectory, now: now) }
      directory.size.add(-Inode.directoryEntrySize, ordering: .relaxed)
      newDirectory.size.add(Inode.directoryEntrySize, ordering: .relaxed)
      if moving.isDirectory && directory !== newDirectory {
        directory.linkCount.subtract(1, ordering: .sequentiallyConsistent)
        newDirectory.linkCount.add(1, ordering: .sequentiallyConsistent)
      }
    }
    moving.touchChanged(now)
    directory.touchModified(now)
    newDirectory.touchModified(now)
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

  /// `FUSE_CREATE`: opens `name` in `directory`, creating a regular file if it is absent
  /// (EEXIST with `exclusive`, EISDIR for a directory). Takes the open reference.
  mutating func create(_ name: FileName, in directory: Inode, spec: NodeSpec, exclusive: Bool,
                       now: ErmFS.Timestamp) throws(Errno) -> (inode: Inode, created: Bool) {
    while true {
      if let existing = child(of: directory, named: name) {
        if exclusive { throw .fileExists }
        if existing.isDirectory { throw .isDirectory }
        if existing.retainOpen() { return (existing, false) }
        continue  // it lost its last reference since the lookup: look again
      }
      do throws(Errno) {
        return (try makeNode(spec, named: name, in: directory, now: now, hold: .open), true)
      } catch {
        // The name appeared since the lookup (lock-free backend): open that one instead.
        if error != .fileExists || exclusive { throw error }
      }
    }
  }

  /// Checks that `name` may be created in `directory` (Linux `may_create` and the
  /// lookup before it): ENOTDIR, ENOENT for a directory already removed, ENAMETOOLONG,
  /// EEXIST.
  func checkCreatable(_ name: FileName, in directory: Inode) throws(Errno) {
    guard directory.isDirectory else { throw .notDirectory }
    guard directory.linkCount.load(ordering: .relaxed) > 0 else { throw .noSuchFileOrDirectory }
    guard name.bytes.count <= FileName.maximumLength else { throw .fileNameTooLong }
    if child(of: directory, named: name) != nil { throw .fileExists }
  }
}
