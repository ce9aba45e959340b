import ErmCore
import ErmFD
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The ErmFS that C callers reach through `ermfs.h` (`ermfs_export_memfd`, ...): one per
/// process. Swift code installs its instance; if none is installed, the first C call
/// creates one with the default configuration.
public enum ProcessFileSystem {
  private static let slot = Mutex<ErmFS?>(nil)

  /// Makes `fs` the instance C callers use (nil drops it; the next C call creates a new one).
  public static func install(_ fs: ErmFS?) {
    slot.withLock { $0 = fs }
  }

  /// The installed instance, created on first use.
  public static func current() throws(Errno) -> ErmFS {
    try slot.withLock { (fs) throws(Errno) -> ErmFS in
      if let fs { return fs }
      let created = try ErmFS(configuration: .init())
      fs = created
      return created
    }
  }
}

/// Runs `body`, mapping a thrown Errno to -1 with errno set.
private func cResult(_ body: () throws(Errno) -> Int32) -> Int32 {
  do { return try body() } catch {
    errno = error.rawValue
    return -1
  }
}

private func string(_ path: UnsafePointer<CChar>?) throws(Errno) -> String {
  guard let path else { throw .invalidArgument }
  guard let s = String(validatingCString: path) else { throw .invalidArgument }
  return s
}

/// `int ermfs_export_memfd(const char *path, int flags)`: ``ErmFS/export(_:options:)``
/// of the process-wide file system for C callers.
@_cdecl("ermfs_export_memfd")
public func ermfs_export_memfd(_ path: UnsafePointer<CChar>?, _ flags: Int32) -> Int32 {
  cResult { () throws(Errno) -> Int32 in
    guard flags >= 0 else { throw .invalidArgument }
    let fs = try ProcessFileSystem.current()
    return try fs.export(try string(path), options: ExportOptions(rawValue: UInt32(flags))).rawValue
  }
}

/// `int ermfs_set_lockless_mode(int enabled)`: ``ErmFS/setLocklessMode(_:)`` of the
/// process-wide file system (non-zero: lock-free backends, 0: locked ones). Returns 0, or
/// -1 with errno EBUSY (a descriptor open or a kernel lookup held) or EINVAL.
@_cdecl("ermfs_set_lockless_mode")
public func ermfs_set_lockless_mode(_ enabled: Int32) -> Int32 {
  cResult { () throws(Errno) -> Int32 in
    try ProcessFileSystem.current().setLocklessMode(enabled != 0)
    return 0
  }
}

/// `int ermfs_put_file(const char *path, const void *bytes, size_t count, unsigned mode)`.
@_cdecl("ermfs_put_file")
public func ermfs_put_file(_ path: UnsafePointer<CChar>?, _ bytes: UnsafeRawPointer?,
                           _ count: Int, _ mode: UInt32) -> Int32 {
  cResult { () throws(Errno) -> Int32 in
    guard count >= 0, count == 0 || bytes != nil, mode <= 0o7777 else { throw .invalidArgument }
    let fs = try ProcessFileSystem.current()
    let fd = try fs.open(try string(path), .writeOnly, options: [.create, .truncate],
                         permissions: FilePermissions(rawValue: mode))
    do throws(Errno) {
      var done = 0
      while done < count {
        done += try fs.write(fd, UnsafeRawBufferPointer(start: bytes! + done, count: count - done))
      }
      try fs.chmod(try string(path), permissions: FilePermissions(rawValue: mode))
    } catch {
      try? fs.close(fd)
      throw error
    }
    try fs.close(fd)
    return 0
  }
}

/// `int ermfs_mkdir(const char *path, unsigned mode)`.
@_cdecl("ermfs_mkdir")
public func ermfs_mkdir(_ path: UnsafePointer<CChar>?, _ mode: UInt32) -> Int32 {
  cResult { () throws(Errno) -> Int32 in
    guard mode <= 0o7777 else { throw .invalidArgument }
    try ProcessFileSystem.current().mkdir(try string(path), permissions: FilePermissions(rawValue: mode))
    return 0
  }
}
