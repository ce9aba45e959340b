import SystemPackage

/// Names: creating, linking, removing and renaming them; listing directories.
extension ErmFS {
  /// Removes a name. A file's data stay readable through descriptors still open on it
  /// and are freed when nothing refers to it any more.
  ///
  /// The corresponding C function is `unlink`.
  ///
  /// - Parameter path: absolute path of anything but a directory.
  /// - Throws: ENOENT, ENOTDIR (a component, or a trailing `/` on a non-directory),
  ///   EISDIR (a directory, `.`, `..` or `/`, as on Linux), ELOOP, EINVAL, ENAMETOOLONG.
  public func unlink(_ path: String) throws(Errno) {
    let parsed = try parse(path)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.removeFile(at: parsed, now: now) }
  }

  /// Renames a file or directory atomically: a lookup sees either the old or the new
  /// name, never neither. An existing destination is replaced when POSIX allows it.
  ///
  /// The corresponding C function is `renameat2` (`rename` when `flags` is empty).
  ///
  /// - Parameters:
  ///   - source: absolute path of what to move.
  ///   - destination: absolute path of its new name.
  ///   - flags: `.noReplace` (`RENAME_NOREPLACE`) or `.exchange` (`RENAME_EXCHANGE`).
  /// - Throws: in Linux's order: EINVAL (both flags), ENOENT/ENOTDIR/ELOOP while walking
  ///   either parent, EBUSY (a last component `.`, `..` or `/`; EEXIST for the
  ///   destination with `.noReplace`), ENOENT (no source; no destination with
  ///   `.exchange`), EEXIST (`.noReplace` and the destination exists), ENOTDIR (a
  ///   trailing `/` on a non-directory), EINVAL (a directory into its own subtree),
  ///   ENOTEMPTY (the destination is an ancestor of the source, or a non-empty
  ///   directory), ENOTDIR (a directory over a non-directory), EISDIR (a non-directory
  ///   over a directory), ENAMETOOLONG.
  public func rename(_ source: String, to destination: String, flags: RenameFlags = []) throws(Errno) {
    if flags.contains(.noReplace) && flags.contains(.exchange) { throw .invalidArgument }
    let from = try parse(source)
    let to = try parse(destination)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in
      try backend.namespace.rename(from, to: to, flags: flags, now: now)
    }
  }

  /// Creates a directory.
  ///
  /// The corresponding C function is `mkdir`.
  ///
  /// - Parameters:
  ///   - path: absolute path of the new directory (a trailing `/` is allowed).
  ///   - permissions: its permission bits (default `0o755`); as Linux, only `0o1777` is
  ///     kept (no setuid/setgid from the caller; setgid comes from a setgid parent).
  /// - Throws: EEXIST (the name exists, or is `.`, `..` or `/`), ENOENT (a missing
  ///   component, or a parent already removed), ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func mkdir(_ path: String, permissions: FilePermissions = [
    .ownerReadWriteExecute, .groupReadExecute, .otherReadExecute,
  ]) throws(Errno) {
    let parsed = try parse(path)
    let spec = NodeSpec(type: .directory, permissions: permissions.rawValue & 0o1777,
                        owner: configuration.owner)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.makeNode(spec, at: parsed, now: now) }
  }

  /// Removes an empty directory.
  ///
  /// The corresponding C function is `rmdir`.
  ///
  /// - Parameter path: absolute path of the directory.
  /// - Throws: ENOENT, ENOTDIR (not a directory), ENOTEMPTY (not empty, or a last
  ///   component `..`), EINVAL (a last component `.`), EBUSY (the root), ELOOP,
  ///   ENAMETOOLONG.
  public func rmdir(_ path: String) throws(Errno) {
    let parsed = try parse(path)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.removeDirectory(at: parsed, now: now) }
  }

  /// Gives an existing inode another name (a hard link).
  ///
  /// The corresponding C function is `link` (a final symbolic link in `existing` is not
  /// followed: the link itself gets the new name).
  ///
  /// - Parameters:
  ///   - existing: absolute path of the inode to link.
  ///   - newPath: absolute path of the new name.
  /// - Throws: ENOENT, ENOTDIR, EEXIST (the new name exists), EPERM (a directory), ELOOP,
  ///   EINVAL, ENAMETOOLONG.
  public func link(_ existing: String, to newPath: String) throws(Errno) {
    let from = try parse(existing)
    let to = try parse(newPath)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.link(from, to: to, now: now) }
  }

  /// Creates a symbolic link at `path` holding `target` (not checked: it may dangle).
  ///
  /// The corresponding C function is `symlink`.
  ///
  /// - Parameters:
  ///   - target: the text the link holds (1-4095 bytes, no NUL).
  ///   - path: absolute path of the new link.
  /// - Throws: ENOENT (an empty target, a missing component, or a trailing `/`), EEXIST,
  ///   ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func symlink(_ target: String, at path: String) throws(Errno) {
    let bytes = Array(target.utf8)
    guard !bytes.isEmpty else { throw .noSuchFileOrDirectory }
    guard !bytes.contains(0) else { throw .invalidArgument }
    guard bytes.count <= ParsedPath.maximumLength else { throw .fileNameTooLong }
    let parsed = try parse(path)
    let spec = NodeSpec(type: .symbolicLink, permissions: 0o777, owner: configuration.owner,
                        symbolicLinkTarget: bytes)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.makeNode(spec, at: parsed, now: now) }
  }

  /// The target a symbolic link holds.
  ///
  /// The corresponding C function is `readlink`.
  ///
  /// - Parameter path: absolute path of the link (not followed).
  /// - Throws: EINVAL (not a symbolic link), ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG.
  public func readlink(_ path: String) throws(Errno) -> String {
    let inode = try resolve(path, followLast: false)
    guard inode.isSymbolicLink else { throw .invalidArgument }
    inode.touchAccessed()
    return String(decoding: inode.symbolicLinkTarget, as: UTF8.self)
  }

  /// Creates a FIFO, a socket, a character or block device node, or an empty regular
  /// file. (ErmFS stores them; opening a FIFO, socket or device through ErmFS is ENXIO,
  /// while through a FUSE mount the kernel serves them itself.)
  ///
  /// The corresponding C function is `mknod`.
  ///
  /// - Parameters:
  ///   - path: absolute path of the new node.
  ///   - type: `.fifo`, `.socket`, `.characterSpecial`, `.blockSpecial` or `.regular`.
  ///   - permissions: permission bits (`0o7777` kept).
  ///   - device: the device number of a device node (`makedev(major, minor)`).
  /// - Throws: EINVAL (another type), EEXIST, ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG.
  public func mknod(_ path: String, type: FileType, permissions: FilePermissions,
                    device: UInt64 = 0) throws(Errno) {
    guard [.fifo, .socket, .characterSpecial, .blockSpecial, .regular].contains(type) else {
      throw .invalidArgument
    }
    let parsed = try parse(path)
    let isDevice = type == .characterSpecial || type == .blockSpecial
    let spec = NodeSpec(type: type, permissions: permissions.rawValue & 0o7777,
                        owner: configuration.owner, device: isDevice ? device : 0)
    let now = Timestamp.now()
    try withBackend { (backend) throws(Errno) in try backend.namespace.makeNode(spec, at: parsed, now: now) }
  }

  /// Lists a directory, sorted by name bytes, without `.` and `..`; marks the directory
  /// accessed (`relatime`), as reading a directory does on Linux.
  ///
  /// The corresponding C functions are `opendir`/`readdir`/`closedir` (one call here;
  /// `readdir(_:after:limit:)` lists piece by piece with stable offsets).
  ///
  /// - Parameter path: absolute path of the directory (a final link is followed).
  /// - Throws: ENOENT, ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func readdir(_ path: String) throws(Errno) -> [DirectoryEntry] {
    let parsed = try parse(path)
    let entries = try withBackend { (backend) throws(Errno) in try backend.namespace.listing(of: parsed) }
    return entries.sorted { $0.fileName.bytes.lexicographicallyPrecedes($1.fileName.bytes) }
  }
}
