import SystemPackage

extension ErmFS {
  /// A point in time as `struct timespec` holds it: seconds and nanoseconds since the epoch.
  public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01 00:00:00 UTC (`tv_sec`).
    public var seconds: Int64
    /// Nanoseconds past `seconds`, in `0..<1_000_000_000` (`tv_nsec`).
    public var nanoseconds: Int64

    /// Creates a timestamp; `nanoseconds` must be in `0..<1_000_000_000` for `utimens`.
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
      self.seconds = seconds
      self.nanoseconds = nanoseconds
    }

    init(totalNanoseconds: Int64) {
      let (q, r) = totalNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
      if r < 0 {
        self.init(seconds: q - 1, nanoseconds: r + 1_000_000_000)
      } else {
        self.init(seconds: q, nanoseconds: r)
      }
    }

    var totalNanoseconds: Int64 { seconds &* 1_000_000_000 &+ nanoseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
      (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public var description: String { "\(seconds).\(nanoseconds)" }
  }

  /// What `utimens` does with one timestamp (`UTIME_NOW`, `UTIME_OMIT`, or a value).
  public enum TimeUpdate: Sendable, Hashable {
    /// Set to the current time (`UTIME_NOW`).
    case now
    /// Leave unchanged (`UTIME_OMIT`).
    case omit
    /// Set to this time.
    case set(Timestamp)
  }

  /// What `stat`/`fstat` report (the fields of `struct stat` that ErmFS keeps).
  public struct FileStatus: Sendable, Hashable {
    /// The inode number (`st_ino`), unique within one ErmFS for the inode's lifetime.
    public var inode: UInt64
    /// File type bits and permission bits (`st_mode`), e.g. `S_IFREG | 0o644`.
    public var mode: FileMode
    /// Number of directory entries naming the inode (`st_nlink`): 1 for a file (0 once
    /// unlinked but still open), 2 + subdirectories for a directory.
    public var linkCount: Int
    /// The logical size in bytes (`st_size`), whatever the stored form.
    public var size: Int64
    /// Bytes held for the contents now: the logical size while materialised, the
    /// compressed size once compressed (ErmFS-specific, like `st_blocks` in spirit).
    public var storedSize: Int64
    /// Last data access (`st_atim`).
    public var accessTime: Timestamp
    /// Last data modification (`st_mtim`).
    public var modificationTime: Timestamp
    /// Last status change (`st_ctim`).
    public var changeTime: Timestamp

    /// The file type part of `mode` (`S_IFMT` bits).
    public var type: FileType { mode.type }
    /// The permission part of `mode`.
    public var permissions: FilePermissions { mode.permissions }
  }

  /// One entry that `readdir` returns.
  public struct DirectoryEntry: Sendable, Hashable {
    /// The entry's name within its directory (`d_name`).
    public var name: String
    /// The inode the entry names (`d_ino`).
    public var inode: UInt64
    /// `.regular` or `.directory` (`d_type`).
    public var type: FileType
  }
}
