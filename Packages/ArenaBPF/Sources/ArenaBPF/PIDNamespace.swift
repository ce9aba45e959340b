#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif
import SystemPackage

/// A pid namespace, named as the kernel names it: the device and inode of its nsfs file
/// (`/proc/PID/ns/pid`). Process ids only mean something within one namespace; the
/// file-creation producer compares and reports ids as seen from the namespace given here
/// (BPF's `bpf_get_ns_current_pid_tgid`).
public struct PIDNamespace: Sendable, Equatable, CustomStringConvertible {
  public var device: UInt64
  public var inode: UInt64

  /// The inode of the initial pid namespace (PROC_PID_INIT_INO in the kernel).
  static let initialInode: UInt64 = 0xEFFF_FFFC

  public init(device: UInt64, inode: UInt64) {
    self.device = device
    self.inode = inode
  }

  /// The namespace of process `process` (an id as the caller sees it), or with
  /// `forChildren` the one its future children get (differs after `unshare(CLONE_NEWPID)`).
  /// The corresponding C function is `stat` on `/proc/PID/ns/pid[_for_children]`.
  /// - Throws: `.system(.noSuchFileOrDirectory)` for an unknown process,
  ///   `.system(.permissionDenied)` when the caller may not look at it.
  public init(process: Int32, forChildren: Bool = false) throws(ArenaError) {
    try self.init(path: "/proc/\(process)/ns/\(forChildren ? "pid_for_children" : "pid")")
  }

  /// The caller's own namespace (`/proc/self/ns/pid`).
  public static func current() throws(ArenaError) -> PIDNamespace {
    try PIDNamespace(path: "/proc/self/ns/pid")
  }

  init(path: String) throws(ArenaError) {
    var info = stat()
    guard stat(path, &info) == 0 else { throw .system(Errno(rawValue: errno)) }
    self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
  }

  /// Whether this is the initial namespace, where ids are the kernel's global ones.
  public var isInitial: Bool { inode == Self.initialInode }

  public var description: String { "pid:[\(inode)] on nsfs device \(device)" }
}
