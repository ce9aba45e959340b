extension ErmFS {
  /// A descriptor number of one ErmFS (not a kernel file descriptor).
  public struct Descriptor: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The descriptor number; the lowest free one is handed out first.
    public let rawValue: Int32
    /// Wraps a number (an unknown one makes calls throw EBADF).
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "\(rawValue)" }
  }

  /// An inode number as `stat` reports it (`st_ino`) and FUSE addresses inodes; the root
  /// is 1 (`FUSE_ROOT_ID`). Numbers are never reused within one ErmFS.
  public struct InodeNumber: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// The root directory.
    public static let root = InodeNumber(rawValue: 1)
    public var description: String { "\(rawValue)" }
  }
}
