import CErmFUSE
import ErmCore
import SystemPackage

/// Conversions between ErmCore's values and the shim's plain C structs.
extension ermfuse_attr {
  init(_ status: ErmFS.FileStatus) {
    self.init()
    ino = status.inode
    mode = UInt32(status.mode.rawValue)
    nlink = UInt32(clamping: status.linkCount)
    uid = status.userID
    gid = status.groupID
    rdev = status.device
    size = status.size
    blocks = status.blocks
    atime_sec = status.accessTime.seconds
    atime_nsec = status.accessTime.nanoseconds
    mtime_sec = status.modificationTime.seconds
    mtime_nsec = status.modificationTime.nanoseconds
    ctime_sec = status.changeTime.seconds
    ctime_nsec = status.changeTime.nanoseconds
  }

  /// What a plain readdir entry needs: the inode number and the type bits.
  init(inode: UInt64, type: FileType) {
    self.init()
    ino = inode
    mode = UInt32(type.rawValue)
  }
}

extension ErmFS.AttributeChanges {
  /// The changes a FUSE_SETATTR asks for. `FUSE_SET_ATTR_CTIME` alone changes nothing:
  /// ErmCore sets the change time itself with every change.
  init(_ request: ermfuse_setattr) {
    self.init()
    let valid = request.valid
    func has(_ bit: Int32) -> Bool { valid & bit != 0 }
    if has(Int32(ERMFUSE_SET_MODE)) { permissions = FilePermissions(rawValue: UInt32(request.mode) & 0o7777) }
    if has(Int32(ERMFUSE_SET_UID)) { userID = request.uid }
    if has(Int32(ERMFUSE_SET_GID)) { groupID = request.gid }
    if has(Int32(ERMFUSE_SET_SIZE)) { size = request.size }
    if has(Int32(ERMFUSE_SET_ATIME_NOW)) {
      accessTime = .now
    } else if has(Int32(ERMFUSE_SET_ATIME)) {
      accessTime = .set(ErmFS.Timestamp(seconds: request.atime_sec, nanoseconds: request.atime_nsec))
    }
    if has(Int32(ERMFUSE_SET_MTIME_NOW)) {
      modificationTime = .now
    } else if has(Int32(ERMFUSE_SET_MTIME)) {
      modificationTime = .set(ErmFS.Timestamp(seconds: request.mtime_sec, nanoseconds: request.mtime_nsec))
    }
  }
}

extension ermfuse_caller {
  /// New inodes belong to the caller.
  var ownership: Ownership { Ownership(userID: uid, groupID: gid) }
  /// `trusted.*` attributes are for root only.
  var isPrivileged: Bool { uid == 0 }
}

/// A NUL-terminated name from the kernel, as ErmCore's byte-exact `FileName`.
func fileName(_ name: UnsafePointer<CChar>) -> FileName {
  FileName(bytes: bytes(name))
}

/// The bytes of a NUL-terminated C string (without the NUL).
func bytes(_ string: UnsafePointer<CChar>) -> [UInt8] {
  let raw = UnsafeRawPointer(string).assumingMemoryBound(to: UInt8.self)
  var count = 0
  while raw[count] != 0 { count += 1 }
  return Array(UnsafeBufferPointer(start: raw, count: count))
}
