/// Where the file-creation producer runs, in the order `auto` tries them. A hook is
/// used only once it has reported a canary file (attaching is not proof it runs).
public enum FileCreationHook: String, Sendable, CaseIterable, CustomStringConvertible {
  /// `lsm/inode_create`, `inode_mkdir`, `inode_mknod`: every creation of a file,
  /// directory or special file, whatever made it (io_uring included); no path.
  case lsm
  /// `fentry/security_inode_create`, `_mkdir`, `_mknod`: the same points without the
  /// LSM framework.
  case fentry
  /// `tracepoint/syscalls/sys_{enter,exit}_*` of openat, openat2, creat, mkdirat,
  /// mknodat (and open, mkdir, mknod on x86-64): the path as given to the call,
  /// published when the call succeeded (docs/decisions/arena-hooks.md lists what it misses).
  case tracepoint

  public var description: String {
    switch self {
    case .lsm: return "lsm (lsm/inode_create, inode_mkdir, inode_mknod)"
    case .fentry: return "fentry (fentry/security_inode_create, _mkdir, _mknod)"
    case .tracepoint: return "tracepoint (syscalls/sys_enter_*/sys_exit_* of open, openat, openat2, creat, mkdir, mkdirat, mknod, mknodat)"
    }
  }

  /// Value recorded in the control block and in events (ARENA_HOOK_*).
  var code: UInt32 {
    switch self {
    case .lsm: return 1
    case .fentry: return 2
    case .tracepoint: return 3
    }
  }

  init?(code: UInt32) {
    guard let hook = Self.allCases.first(where: { $0.code == code }) else { return nil }
    self = hook
  }

  /// Programs of bpf/file_events.bpf.c that make up this hook.
  var programs: [String] {
    switch self {
    case .lsm: return ["lsm_inode_create", "lsm_inode_mkdir", "lsm_inode_mknod"]
    case .fentry: return ["fentry_inode_create", "fentry_inode_mkdir", "fentry_inode_mknod"]
    case .tracepoint:
      return ["openat", "openat2", "creat", "mkdirat", "mknodat", "open", "mkdir", "mknod"]
        .flatMap { ["tp_enter_\($0)", "tp_exit_\($0)"] }
    }
  }
}

/// One observed file creation, copied out of its arena node.
///
/// `name` means the same for every hook: the new entry's own name, its final path
/// component. `path` is the path as given to the creating call, relative to
/// `directoryDescriptor`, when the hook sees the call (tracepoint); the inode hooks (lsm,
/// fentry) see the new dentry, not the call, and leave it nil.
public struct FileCreationEvent: Sendable, Equatable {
  /// What created it.
  public enum Origin: UInt32, Sendable {
    case openat = 1, creat, mkdirat, mknodat, open, mkdir, inodeCreate, openat2, mknod, inodeMkdir, inodeMknod
  }
  /// Whether `name` and `path` are whole.
  public enum NameStatus: Sendable, Equatable {
    case complete
    /// The path was longer than 255 bytes: `path` holds its first 255, `name` is empty.
    case truncated
    /// The name's memory could not be read, not even when the call returned: both empty.
    case unreadable
  }
  /// Kernel-wide publication order (several CPUs may publish out of this order).
  public var sequence: UInt64
  /// CLOCK_MONOTONIC nanoseconds when the producer published it.
  public var timestampNanoseconds: UInt64
  /// Thread id of the creator in the feed's pid namespace (0: not visible from there).
  public var pid: Int32
  /// Process id of the creator in the feed's pid namespace (0: not visible from there).
  public var tgid: Int32
  /// The creator's command name (at most 15 bytes).
  public var command: String
  /// Mode argument of the creating call (with the file type for mknod).
  public var mode: UInt32
  /// The new entry's own name (final path component, no `/`), for every hook.
  public var name: String
  /// The path as given to the creating call (tracepoint hook), nil for the inode hooks.
  public var path: String?
  public var nameStatus: NameStatus
  /// Directory descriptor of *at calls (AT_FDCWD = -100 otherwise).
  public var directoryDescriptor: Int32
  public var origin: Origin?
  public var hook: FileCreationHook?

  /// The final component of `path` ("a/b/" names "b").
  static func lastComponent(of path: Substring) -> Substring {
    var trimmed = path
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
    return trimmed[trimmed.index(after: slash)...]
  }
}

/// Counters of a feed. `received` and `polls` are the consumer's; `dropped` are
/// events the kernel could not publish (pool or structure full).
public struct FileCreationCounters: Sendable, Equatable {
  public var received: UInt64
  public var droppedOnFull: UInt64
  public var polls: UInt64
  public var published: UInt64
  /// BPF loops that ran out of their `may_goto` budget (counted, not lost silently).
  public var loopBudgetExhausted: UInt64
  /// Times a producer woke a sleeping consumer (`FileCreationFeed.next(spinningFor:timeout:)`).
  public var doorbellsRung: UInt64
  /// Names that could not be read when their call started (memory not mapped yet) and
  /// were read when it returned.
  public var namesReadAtExit: UInt64
}
