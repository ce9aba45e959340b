import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Status, permissions, owners and times.
extension ErmFS {
  /// The status of the inode at `path`, following a final symbolic link; `size` is
  /// always the logical size.
  ///
  /// The corresponding C function is `stat`.
  ///
  /// - Parameter path: absolute path.
  /// - Throws: ENOENT, ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func stat(_ path: String) throws(Errno) -> FileStatus {
    try resolve(path).status()
  }

  /// The status of the inode at `path`; a final symbolic link is not followed.
  ///
  /// The corresponding C function is `lstat`.
  ///
  /// - Parameter path: absolute path.
  /// - Throws: ENOENT, ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func lstat(_ path: String) throws(Errno) -> FileStatus {
    try resolve(path, followLast: false).status()
  }

  /// The status of an open file (also after it was unlinked: `linkCount` is then 0).
  ///
  /// The corresponding C function is `fstat`.
  ///
  /// - Parameter descriptor: an open descriptor.
  /// - Throws: EBADF.
  public func fstat(_ descriptor: Descriptor) throws(Errno) -> FileStatus {
    try openFile(descriptor).inode.status()
  }

  /// Changes the permission bits (`0o7777`); the type bits are kept.
  ///
  /// The corresponding C function is `chmod` (a final link is followed).
  ///
  /// - Parameters:
  ///   - path: absolute path.
  ///   - permissions: the new bits.
  /// - Throws: ENOENT, ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func chmod(_ path: String, permissions: FilePermissions) throws(Errno) {
    let inode = try resolve(path)
    inode.permissionBits.store(permissions.rawValue & 0o7777, ordering: .relaxed)
    inode.touchChanged()
  }

  /// Changes owner and group; nil leaves one unchanged (`-1`). As Linux does for a
  /// non-directory, it clears setuid, and setgid when group execute is set, even when
  /// nothing changes; the change time is always set.
  ///
  /// The corresponding C function is `chown` (`lchown` with `followLast: false`).
  ///
  /// - Parameters:
  ///   - path: absolute path.
  ///   - userID: new owner, or nil.
  ///   - groupID: new group, or nil.
  ///   - followLast: follow a final symbolic link (default, `chown`) or not (`lchown`).
  /// - Throws: ENOENT, ENOTDIR, ELOOP, EINVAL, ENAMETOOLONG.
  public func chown(_ path: String, userID: UInt32?, groupID: UInt32?,
                    followLast: Bool = true) throws(Errno) {
    changeOwner(try resolve(path, followLast: followLast), userID: userID, groupID: groupID)
  }

  func changeOwner(_ inode: Inode, userID: UInt32?, groupID: UInt32?) {
    var owner = inode.owner
    if let userID { owner.userID = userID }
    if let groupID { owner.groupID = groupID }
    inode.setOwner(owner)
    if !inode.isDirectory {
      var bits = inode.permissions
      bits &= ~0o4000
      if bits & 0o0010 != 0 { bits &= ~0o2000 }
      inode.permissionBits.store(bits, ordering: .relaxed)
    }
    inode.touchChanged()
  }

  /// Sets the access and modification times; the change time becomes now. Both `.omit`
  /// is a no-op that succeeds without looking the path up, as on Linux.
  ///
  /// The corresponding C function is `utimensat` (with `AT_FDCWD`).
  ///
  /// - Parameters:
  ///   - path: absolute path.
  ///   - access: new access time (`.now`, `.omit`, or a value).
  ///   - modification: new modification time (`.now`, `.omit`, or a value).
  ///   - followLast: follow a final symbolic link (default) or not
  ///     (`AT_SYMLINK_NOFOLLOW`).
  /// - Throws: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EINVAL (nanoseconds outside
  ///   `0..<1_000_000_000`, checked after the lookup as the kernel does).
  public func utimens(_ path: String, access: TimeUpdate = .now,
                      modification: TimeUpdate = .now, followLast: Bool = true) throws(Errno) {
    if access == .omit && modification == .omit { return }
    try setTimes(try resolve(path, followLast: followLast), access: access, modification: modification)
  }

  func setTimes(_ inode: Inode, access: TimeUpdate, modification: TimeUpdate) throws(Errno) {
    for update in [access, modification] {
      if case .set(let time) = update, !time.isValid { throw .invalidArgument }
    }
    if access == .omit && modification == .omit { return }
    let now = Timestamp.now()
    func apply(_ update: TimeUpdate, to field: borrowing AtomicTimestamp) {
      switch update {
      case .now: field.store(now)
      case .omit: break
      case .set(let time): field.store(time)
      }
    }
    apply(access, to: inode.accessTime)
    apply(modification, to: inode.modificationTime)
    inode.touchChanged(now)
  }

  /// Figures of the whole file system: blocks from the quota (all of physical memory
  /// without one), inodes without a fixed limit.
  ///
  /// The corresponding C function is `statvfs` (`statfs`).
  public func statfs() -> FileSystemStatus {
    let block = Footprint.pages(1)
    let total = configuration.byteQuota ?? Int(sysconf(Int32(_SC_PHYS_PAGES))) * block
    let used = accounting.storedBytes.load(ordering: .relaxed)
    let counts = (try? withBackend { $0.namespace.counts }) ?? (files: 0, directories: 0)
    let inodesUsed = UInt64(counts.files + counts.directories + 1)
    return FileSystemStatus(
      blockSize: block, blocks: UInt64(max(0, total) / block),
      freeBlocks: UInt64(max(0, total - used) / block),
      files: inodesUsed + UInt64(UInt32.max), freeFiles: UInt64(UInt32.max),
      maximumNameLength: FileName.maximumLength)
  }
}
