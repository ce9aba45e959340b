extension ErmFS {
  /// How the directory tree and the descriptor table are synchronised
  /// (docs/decisions/lockless-core.md). Both modes answer every call the same way.
  public enum Locking: Sendable, Hashable, CustomStringConvertible {
    /// The tree behind one reader-writer lock, the descriptor table behind a lock.
    case locked
    /// Lock-free maps per directory and a lock-free descriptor table; only `rename` and
    /// `rmdir` take a lock (one for the whole tree, never taken by lookups, creates,
    /// unlinks, opens or closes).
    case lockless

    /// `.lockless` when built with the package trait `Lockless` (ERMFS_LOCKLESS), else
    /// `.locked`.
    public static var `default`: Locking {
      #if ERMFS_LOCKLESS
      return .lockless
      #else
      return .locked
      #endif
    }

    public var description: String { self == .locked ? "locked" : "lockless" }
  }
}
