import SystemPackage

/// Why an arena operation did not happen. Full and empty are reported as values by
/// `ArenaStructure.push`/`pop`'s callers' choice; everything here is a real failure.
public enum ArenaError: Error, Sendable, Equatable, CustomStringConvertible {
  /// No free slot or pool node: the structure is truly full (ENOBUFS).
  case full
  /// Bad capacity, reserved key, or offset outside the mapping (EINVAL).
  case invalidArgument
  /// Hash set: the key is already present (EEXIST).
  case exists
  /// A verify walk found a broken invariant (EBADMSG).
  case corrupt
  /// BPF only: the kernel's `may_goto` loop budget ran out (ETIMEDOUT).
  case loopBudgetExhausted
  /// A file-creation hook loaded and attached, but its programs never reported a
  /// canary file (ENODATA): e.g. BPF LSM compiled in but not in the kernel's `lsm=`.
  case silentHook(detail: String)
  /// A system call failed.
  case system(Errno)
  /// libbpf or the kernel refused to open, load or attach a program; `detail` holds
  /// libbpf's messages (the verifier's reason, a missing hook).
  case kernel(Errno, detail: String)

  /// Maps a negative `ARENA_E*` status from the C headers (0 is not an error).
  init(status: Int32) {
    switch -status {
    case 1: self = .full
    case 4: self = .exists
    case 5: self = .corrupt
    case 6: self = .loopBudgetExhausted
    default: self = .invalidArgument
    }
  }

  /// The errno a file-system caller would see.
  public var errno: Errno {
    switch self {
    case .full: return .noBufferSpace
    case .invalidArgument: return .invalidArgument
    case .exists: return .fileExists
    case .corrupt: return .badMessage
    case .loopBudgetExhausted: return .timedOut
    case .silentHook: return .noData
    case .system(let errno): return errno
    case .kernel(let errno, _): return errno
    }
  }

  public var description: String {
    switch self {
    case .full: return "arena structure is full"
    case .invalidArgument: return "invalid arena argument"
    case .exists: return "key already present"
    case .corrupt: return "arena structure invariant broken"
    case .loopBudgetExhausted: return "BPF loop budget exhausted"
    case .silentHook(let detail): return "hook attached but never ran: \(detail)"
    case .system(let errno): return "system call failed: \(errno)"
    case .kernel(let errno, let detail): return "BPF load/attach failed: \(errno)\(detail.isEmpty ? "" : "\n" + detail)"
    }
  }
}
