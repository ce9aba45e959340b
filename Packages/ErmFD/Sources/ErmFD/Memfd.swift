import CErmFD
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thin, typed wrappers over the memfd calls Swift's Glibc module does not export.
public enum Memfd {
  /// The longest memfd name the kernel accepts (NAME_MAX minus the "memfd:" prefix).
  public static let maximumNameLength = 249

  /// Creates an anonymous memory file.
  ///
  /// The corresponding C function is `memfd_create`.
  ///
  /// - Parameters:
  ///   - name: shown in `/proc/PID/fd` as `/memfd:NAME`; longer names keep their last
  ///     ``maximumNameLength`` bytes; NUL bytes are replaced by `_`.
  ///   - flags: `MFD_*` bits (``ERMFD_MFD_CLOEXEC`` and friends from the C shim).
  /// - Throws: EMFILE/ENFILE when out of descriptors, EINVAL for flags the kernel does
  ///   not know, EACCES when `MFD_EXEC` is forbidden by `vm.memfd_noexec`, ENOMEM.
  public static func create(name: String, flags: UInt32) throws(Errno) -> FileDescriptor {
    var bytes = Array(name.utf8).map { $0 == 0 ? UInt8(ascii: "_") : $0 }
    if bytes.count > maximumNameLength { bytes.removeFirst(bytes.count - maximumNameLength) }
    bytes.append(0)
    let fd = bytes.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) { ermfd_memfd_create($0.baseAddress!, flags) }
    }
    guard fd >= 0 else { throw Errno(rawValue: errno) }
    return FileDescriptor(rawValue: fd)
  }

  /// The seals a memfd carries.
  ///
  /// The corresponding C function is `fcntl(fd, F_GET_SEALS)`.
  ///
  /// - Throws: EINVAL when `descriptor` is not a memfd (or not sealable), EBADF.
  public static func seals(of descriptor: FileDescriptor) throws(Errno) -> Seals {
    let rc = ermfd_get_seals(descriptor.rawValue)
    guard rc >= 0 else { throw Errno(rawValue: errno) }
    return Seals(rawValue: UInt32(rc))
  }

  /// Adds seals to a memfd.
  ///
  /// The corresponding C function is `fcntl(fd, F_ADD_SEALS, seals)`.
  ///
  /// - Throws: EPERM when `F_SEAL_SEAL` is already set or the memfd was created without
  ///   `MFD_ALLOW_SEALING`; EBUSY for `F_SEAL_WRITE` while a shared writable mapping
  ///   exists; EINVAL, EBADF.
  public static func addSeals(_ seals: Seals, to descriptor: FileDescriptor) throws(Errno) {
    guard ermfd_add_seals(descriptor.rawValue, seals.rawValue) == 0 else { throw Errno(rawValue: errno) }
  }
}

/// What the kernel allows for executable memfds: the sysctl `vm.memfd_noexec`
/// (`/proc/sys/vm/memfd_noexec`, Linux 6.3+).
public enum ExecutableMemfdPolicy: Sendable, Equatable, CustomStringConvertible {
  /// 0: memfds may be executable; `MFD_EXEC` is honoured.
  case allowed
  /// 1: memfds are non-executable unless created with `MFD_EXEC`, which is honoured.
  case nonExecutableByDefault
  /// 2: `MFD_EXEC` is refused (EACCES): no memfd can be executed.
  case forbidden
  /// The sysctl does not exist: a kernel older than 6.3, which knows neither `MFD_EXEC`
  /// nor `MFD_NOEXEC_SEAL` and makes every memfd executable.
  case predatesExecControl

  /// Reads `/proc/sys/vm/memfd_noexec` now (it can change at run time).
  public static var current: ExecutableMemfdPolicy {
    guard let fd = try? FileDescriptor.open("/proc/sys/vm/memfd_noexec", .readOnly,
                                            options: .closeOnExec) else {
      return .predatesExecControl
    }
    defer { try? fd.close() }
    var byte: UInt8 = 0
    let n = (try? withUnsafeMutableBytes(of: &byte) { try fd.read(into: $0) }) ?? 0
    switch (n, byte) {
    case (1, UInt8(ascii: "0")): return .allowed
    case (1, UInt8(ascii: "1")): return .nonExecutableByDefault
    case (1, UInt8(ascii: "2")): return .forbidden
    default: return .predatesExecControl
    }
  }

  /// Whether an executable memfd can be created under this policy.
  public var permitsExecutableMemfds: Bool { self != .forbidden }

  public var description: String {
    switch self {
    case .allowed: return "vm.memfd_noexec=0: executable memfds allowed"
    case .nonExecutableByDefault:
      return "vm.memfd_noexec=1: memfds are non-executable unless created with MFD_EXEC"
    case .forbidden:
      return "vm.memfd_noexec=2: the kernel forbids executable memfds (MFD_EXEC fails with EACCES); ask the administrator to lower vm.memfd_noexec"
    case .predatesExecControl:
      return "no vm.memfd_noexec (kernel older than 6.3): every memfd is executable"
    }
  }
}
