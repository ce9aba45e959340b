import CErmFD

/// How ``ErmFS/export(_:options:)`` prepares the memfd it returns.
///
/// The raw values are the `flags` of the C function `ermfs_export_memfd`.
public struct ExportOptions: OptionSet, Sendable, Hashable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  /// Seal the memfd after filling it: `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
  /// F_SEAL_SEAL`, so nobody (the receiver included) can change its size or bytes and no
  /// further seal can be added. Writes then fail with EPERM.
  public static let sealed = ExportOptions(rawValue: 1 << 0)

  /// Create the memfd executable (`MFD_EXEC`), ready for `fexecve`. Without it the memfd
  /// is created with `MFD_NOEXEC_SEAL` where the kernel knows that flag (Linux 6.3+), so
  /// an export cannot be executed by accident. The export throws EACCES when
  /// `vm.memfd_noexec` is 2 (the kernel refuses `MFD_EXEC`); ``ExecutableMemfdPolicy``
  /// explains it to users.
  public static let executable = ExportOptions(rawValue: 1 << 1)

  /// Every option this version knows; anything else makes an export throw EINVAL.
  public static let all: ExportOptions = [.sealed, .executable]
}

/// The seals ``ExportOptions/sealed`` applies.
public struct Seals: OptionSet, Sendable, Hashable {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }
  /// `F_SEAL_SEAL`: no further seals.
  public static let seal = Seals(rawValue: ERMFD_SEAL_SEAL)
  /// `F_SEAL_SHRINK`: the size cannot decrease.
  public static let shrink = Seals(rawValue: ERMFD_SEAL_SHRINK)
  /// `F_SEAL_GROW`: the size cannot increase.
  public static let grow = Seals(rawValue: ERMFD_SEAL_GROW)
  /// `F_SEAL_WRITE`: the bytes cannot change (write, shared writable mmap).
  public static let write = Seals(rawValue: ERMFD_SEAL_WRITE)
  /// `F_SEAL_FUTURE_WRITE`: no new writes, existing writable mappings keep working.
  public static let futureWrite = Seals(rawValue: ERMFD_SEAL_FUTURE_WRITE)
  /// `F_SEAL_EXEC`: the executable bits cannot change.
  public static let exec = Seals(rawValue: ERMFD_SEAL_EXEC)

  /// What a sealed export carries.
  public static let export: Seals = [.shrink, .grow, .write, .seal]
}
