import SystemPackage

/// The inode-addressed front door, shaped after FUSE's low-level protocol: inodes are
/// named by number, new entries come back with one more kernel lookup on them, and
/// `forget` gives lookups back. The rules are the same ones the path calls end in.
///
/// Every call that returns a `FileStatus` for an entry (`lookup`, `create`, `makeNode`,
/// `makeDirectory`, `makeSymbolicLink`, `link`) adds one lookup to that inode; an inode
/// stays addressable (and its data alive, even unlinked) until `forget` takes its
/// lookups back. Numbers the kernel holds no lookup on are ESTALE.
extension ErmFS {
  /// Looks `name` up in a directory (`FUSE_LOOKUP`); one more lookup on the result.
  ///
  /// - Throws: ESTALE (unknown parent), ENOTDIR, ENOENT, ENAMETOOLONG.
  public func lookup(in parent: InodeNumber, named name: FileName) throws(Errno) -> FileStatus {
    let directory = try inodes.inode(parent.rawValue)
    while true {
      let found = try withBackend { (backend) throws(Errno) in try backend.namespace.lookup(name, in: directory) }
      if inodes.remember(found) { return found.status() }
      // It died since the lookup (its last name went and nothing held it): look again.
    }
  }

  /// Takes back `count` lookups (`FUSE_FORGET`); frees an unlinked file nothing else
  /// refers to.
  public func forget(_ inode: InodeNumber, count: UInt64) {
    guard let dropped = inodes.forget(inode.rawValue, count: Int(clamping: count)) else { return }
    lifetime.release(dropped)
  }

  /// Inodes the kernel holds lookups on, the root included (for leak tests and stats).
  public var rememberedInodeCount: Int { inodes.count }

  /// The status of an inode (`FUSE_GETATTR`).
  ///
  /// - Throws: ESTALE.
  public func status(of inode: InodeNumber) throws(Errno) -> FileStatus {
    try inodes.inode(inode.rawValue).status()
  }

  /// What `setAttributes` changes; nil leaves a field alone.
  public struct AttributeChanges: Sendable, Hashable {
    public var permissions: FilePermissions?
    public var userID: UInt32?
    public var groupID: UInt32?
    public var size: Int64?
    public var accessTime: TimeUpdate?
    public var modificationTime: TimeUpdate?
    public init(permissions: FilePermissions? = nil, userID: UInt32? = nil, groupID: UInt32? = nil,
                size: Int64? = nil, accessTime: TimeUpdate? = nil, modificationTime: TimeUpdate? = nil) {
      self.permissions = permissions
      self.userID = userID
      self.groupID = groupID
      self.size = size
      self.accessTime = accessTime
      self.modificationTime = modificationTime
    }
  }

  /// Changes attributes of an inode (`FUSE_SETATTR`): size first (as `notify_change`),
  /// then owner, permissions and times. The kernel has already checked permissions and
  /// worked out the setuid/setgid clearing; this applies what it asks.
  ///
  /// - Throws: ESTALE, EISDIR (size of a directory), EINVAL (size of another
  ///   non-regular file, negative size, bad nanoseconds), EFBIG, ENOSPC, ENOMEM.
  public func setAttributes(of inode: InodeNumber, _ changes: AttributeChanges) throws(Errno) -> FileStatus {
    let target = try inodes.inode(inode.rawValue)
    if let size = changes.size {
      guard size >= 0 else { throw .invalidArgument }
      guard !target.isDirectory else { throw .isDirectory }
      guard target.isRegular else { throw .invalidArgument }
      guard size <= Int64(configuration.maxFileSize) else { throw .fileTooLarge }
      try storage.truncate(target, to: Int(size))
    }
    if changes.userID != nil || changes.groupID != nil {
      var owner = target.owner
      if let user = changes.userID { owner.userID = user }
      if let group = changes.groupID { owner.groupID = group }
      target.setOwner(owner)
      target.touchChanged()
    }
    if let permissions = changes.permissions {
      target.permissionBits.store(permissions.rawValue & 0o7777, ordering: .relaxed)
      target.touchChanged()
    }
    if changes.accessTime != nil || changes.modificationTime != nil {
      try setTimes(target, access: changes.accessTime ?? .omit,
                   modification: changes.modificationTime ?? .omit)
    }
    return target.status()
  }

  /// Creates a node (`FUSE_MKNOD`): a regular file, FIFO, socket or device node.
  ///
  /// - Throws: ESTALE, EINVAL (another type, or a bad name), ENOTDIR, ENOENT (parent
  ///   removed), ENAMETOOLONG, EEXIST.
  public func makeNode(in parent: InodeNumber, named name: FileName, type: FileType,
                       permissions: FilePermissions, device: UInt64 = 0,
                       owner: Ownership) throws(Errno) -> FileStatus {
    guard [.fifo, .socket, .characterSpecial, .blockSpecial, .regular].contains(type) else {
      throw .invalidArgument
    }
    let isDevice = type == .characterSpecial || type == .blockSpecial
    return try makeEntry(NodeSpec(type: type, permissions: permissions.rawValue & 0o7777,
                                  owner: owner, device: isDevice ? device : 0),
                         in: parent, named: name)
  }

  /// Creates a directory (`FUSE_MKDIR`); only `0o1777` of `permissions` is kept.
  ///
  /// - Throws: ESTALE, EINVAL, ENOTDIR, ENOENT, ENAMETOOLONG, EEXIST.
  public func makeDirectory(in parent: InodeNumber, named name: FileName,
                            permissions: FilePermissions, owner: Ownership) throws(Errno) -> FileStatus {
    try makeEntry(NodeSpec(type: .directory, permissions: permissions.rawValue & 0o1777, owner: owner),
                  in: parent, named: name)
  }

  /// Creates a symbolic link holding `target` (`FUSE_SYMLINK`).
  ///
  /// - Throws: ESTALE, ENOENT (empty target), ENAMETOOLONG (target over 4095 bytes),
  ///   EINVAL, ENOTDIR, EEXIST.
  public func makeSymbolicLink(in parent: InodeNumber, named name: FileName, target: [UInt8],
                               owner: Ownership) throws(Errno) -> FileStatus {
    guard !target.isEmpty else { throw .noSuchFileOrDirectory }
    guard target.count <= ParsedPath.maximumLength else { throw .fileNameTooLong }
    return try makeEntry(NodeSpec(type: .symbolicLink, permissions: 0o777, owner: owner,
                                  symbolicLinkTarget: target),
                         in: parent, named: name)
  }

  private func makeEntry(_ spec: NodeSpec, in parent: InodeNumber,
                         named name: FileName) throws(Errno) -> FileStatus {
    try name.validate()
    if name.isDot || name.isDotDot { throw .fileExists }
    let directory = try inodes.inode(parent.rawValue)
    let now = Timestamp.now()
    // Made holding a reference, so it is alive to be remembered whatever happens to its name.
    let inode = try withBackend { (backend) throws(Errno) in
      try backend.namespace.makeNode(spec, named: name, in: directory, now: now, hold: .reference)
    }
    _ = inodes.remember(inode)
    lifetime.release(inode)
    return inode.status()
  }

  /// Gives `inode` another name (`FUSE_LINK`).
  ///
  /// - Throws: ESTALE, EPERM (a directory), ENOENT (no links left, or parent removed),
  ///   EINVAL, ENOTDIR, ENAMETOOLONG, EEXIST.
  public func link(_ inode: InodeNumber, in parent: InodeNumber,
                   named name: FileName) throws(Errno) -> FileStatus {
    try name.validate()
    if name.isDot || name.isDotDot { throw .fileExists }
    let target = try inodes.inode(inode.rawValue)
    let directory = try inodes.inode(parent.rawValue)
    let now = Timestamp.now()
    // The kernel holds a lookup on `target`, so it is alive and remembering it cannot fail.
    _ = inodes.remember(target)
    do throws(Errno) {
      try withBackend { (backend) throws(Errno) in try backend.namespace.link(target, named: name, in: directory, now: now) }
    } catch {
      forget(inode, count: 1)
      throw error
    }
    return target.status()
  }

  /// Removes a name that is not a directory (`FUSE_UNLINK`).
  ///
  /// - Throws: ESTALE, ENOTDIR, ENOENT, EISDIR, EINVAL, ENAMETOOLONG.
  public func unlink(in parent: InodeNumber, named name: FileName) throws(Errno) {
    try name.validate()
    let directory = try inodes.inode(parent.rawValue)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.removeFile(named: name, in: directory, now: now) }
  }

  /// Removes an empty directory (`FUSE_RMDIR`).
  ///
  /// - Throws: ESTALE, ENOTDIR, ENOENT, ENOTEMPTY, EINVAL (`.`), EINVAL, ENAMETOOLONG.
  public func removeDirectory(in parent: InodeNumber, named name: FileName) throws(Errno) {
    try name.validate()
    let directory = try inodes.inode(parent.rawValue)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in
      try backend.namespace.removeDirectory(named: name, in: directory, now: now)
    }
  }

  /// Renames (`FUSE_RENAME2`), with `renameat2`'s flags and errno rules.
  ///
  /// - Throws: EINVAL (both flags, a bad name, a directory into itself), ESTALE, ENOENT,
  ///   EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EBUSY, ENAMETOOLONG.
  public func rename(in parent: InodeNumber, named name: FileName, to newParent: InodeNumber,
                     named newName: FileName, flags: RenameFlags = []) throws(Errno) {
    if flags.contains(.noReplace) && flags.contains(.exchange) { throw .invalidArgument }
    try name.validate()
    try newName.validate()
    if name.isDot || name.isDotDot || newName.isDot || newName.isDotDot { throw .resourceBusy }
    let directory = try inodes.inode(parent.rawValue)
    let newDirectory = try inodes.inode(newParent.rawValue)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in
      try backend.namespace.rename(name, in: directory, to: newName, in: newDirectory, flags: flags, now: now)
    }
  }

  /// A symbolic link's target (`FUSE_READLINK`).
  ///
  /// - Throws: ESTALE, EINVAL (not a link).
  public func readLink(_ inode: InodeNumber) throws(Errno) -> [UInt8] {
    let link = try inodes.inode(inode.rawValue)
    guard link.isSymbolicLink else { throw .invalidArgument }
    link.touchAccessed()
    return link.symbolicLinkTarget
  }

  /// Opens an inode (`FUSE_OPEN`, `FUSE_OPENDIR`) and returns a descriptor of this ErmFS
  /// (a FUSE adapter uses it as the file handle).
  ///
  /// - Parameters:
  ///   - inode: a regular file or directory the kernel holds a lookup on.
  ///   - mode: the access mode.
  ///   - options: `.truncate` and `.append` are honoured; others are the kernel's.
  /// - Throws: ESTALE, EISDIR (a directory for writing), ENXIO (a special file), EINVAL
  ///   (bad access mode), EMFILE.
  public func open(_ inode: InodeNumber, _ mode: FileDescriptor.AccessMode,
                   options: FileDescriptor.OpenOptions = []) throws(Errno) -> Descriptor {
    let access = try Access(mode)
    let target = try inodes.inode(inode.rawValue)
    if target.isDirectory && (access.canWrite || options.contains(.truncate)) { throw .isDirectory }
    return try withBackend { (backend) throws(Errno) -> Descriptor in
      let number = try backend.descriptors.reserve()
      // The kernel holds a lookup on it: it is alive.
      guard target.retainOpen() else {
        backend.descriptors.cancel(number)
        throw .staleNFSFileHandle
      }
      return try finishOpen(target, number: number, in: backend.descriptors, access: access,
                            truncate: options.contains(.truncate), appends: options.contains(.append))
    }
  }

  /// Creates and opens a regular file (`FUSE_CREATE`); one more lookup on it. An
  /// existing name is opened instead unless `.exclusiveCreate` (EEXIST).
  ///
  /// - Throws: ESTALE, EINVAL, ENOTDIR, ENOENT, ENAMETOOLONG, EEXIST, EISDIR, EMFILE.
  public func create(in parent: InodeNumber, named name: FileName, _ mode: FileDescriptor.AccessMode,
                     options: FileDescriptor.OpenOptions = [], permissions: FilePermissions,
                     owner: Ownership) throws(Errno) -> (status: FileStatus, descriptor: Descriptor) {
    let access = try Access(mode)
    try name.validate()
    let directory = try inodes.inode(parent.rawValue)
    let spec = NodeSpec(type: .regular, permissions: permissions.rawValue & 0o7777, owner: owner)
    let now = Timestamp.now()
    return try withBackend { (backend) throws(Errno) -> (status: FileStatus, descriptor: Descriptor) in
      let number = try backend.descriptors.reserve()
      let opened: (inode: Inode, created: Bool)
      do throws(Errno) {
        opened = try backend.namespace.create(name, in: directory, spec: spec,
                                              exclusive: options.contains(.exclusiveCreate), now: now)
      } catch {
        backend.descriptors.cancel(number)
        throw error
      }
      // Its open reference keeps it alive: remembering it cannot fail.
      _ = inodes.remember(opened.inode)
      let descriptor = try finishOpen(opened.inode, number: number, in: backend.descriptors, access: access,
                                      truncate: options.contains(.truncate) && !opened.created,
                                      appends: options.contains(.append))
      return (opened.inode.status(), descriptor)
    }
  }

  /// Up to `limit` entries of a directory after `cookie` (`FUSE_READDIR`): `.` (cookie
  /// 1) and `..` (cookie 2) first, then the entries in the order they were made. Each
  /// entry's cookie resumes the listing right after it, however the directory changes.
  ///
  /// - Throws: ESTALE, ENOTDIR.
  public func entries(of directory: InodeNumber, after cookie: UInt64,
                      limit: Int) throws(Errno) -> [DirectoryEntry] {
    let inode = try inodes.inode(directory.rawValue)
    guard inode.isDirectory else { throw .notDirectory }
    inode.touchAccessed()
    return try withBackend { $0.namespace.entries(of: inode, after: cookie, limit: limit) }
  }

  // MARK: Extended attributes by inode

  /// `FUSE_SETXATTR`. Errors as `setExtendedAttribute(_:_:at:flags:privileged:)`.
  public func setAttribute(_ name: [UInt8], _ value: [UInt8], of inode: InodeNumber,
                           flags: AttributeFlags, privileged: Bool) throws(Errno) {
    guard flags.isSubset(of: [.create, .replace]) else { throw .invalidArgument }
    guard !name.isEmpty, name.count <= ExtendedAttributes.maximumNameLength else { throw .outOfRange }
    guard value.count <= ExtendedAttributes.maximumValueSize else { throw .argListTooLong }
    try setAttribute(name, value, on: try inodes.inode(inode.rawValue), flags: flags, privileged: privileged)
  }

  /// `FUSE_GETXATTR`: the value, or with `size` > 0 smaller than it, ERANGE (`size` 0
  /// asks only for the length, which is the returned value's count).
  public func attributeValue(_ name: [UInt8], of inode: InodeNumber, size: Int,
                             privileged: Bool) throws(Errno) -> [UInt8] {
    guard !name.isEmpty, name.count <= ExtendedAttributes.maximumNameLength else { throw .outOfRange }
    let value = try attribute(name, of: try inodes.inode(inode.rawValue), privileged: privileged)
    if size > 0 && value.count > size { throw .outOfRange }
    return value
  }

  /// `FUSE_LISTXATTR`: NUL-terminated names; ERANGE when `size` > 0 is too small.
  public func attributeNames(of inode: InodeNumber, size: Int, privileged: Bool) throws(Errno) -> [UInt8] {
    let list = try attributeList(of: try inodes.inode(inode.rawValue), privileged: privileged)
    if size > 0 && list.count > size { throw .outOfRange }
    return list
  }

  /// `FUSE_REMOVEXATTR`.
  public func removeAttribute(_ name: [UInt8], of inode: InodeNumber, privileged: Bool) throws(Errno) {
    try removeAttribute(name, from: try inodes.inode(inode.rawValue), privileged: privileged)
  }
}
