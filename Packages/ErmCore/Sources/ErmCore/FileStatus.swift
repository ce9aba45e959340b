import SystemPackage

extension ErmFS {
  /// What `stat`/`fstat`/`lstat` report (the fields of `struct stat` that ErmFS keeps).
  public struct FileStatus: Sendable, Hashable {
    /// The inode number (`st_ino`), unique within one ErmFS for the inode's lifetime.
    public var inode: UInt64
    /// File type bits and permission bits (`st_mode`), e.g. `S_IFREG | 0o644`.
    public var mode: FileMode
    /// Number of directory entries naming the inode (`st_nlink`): links of a file (0
    /// once unlinked but still open), 2 + subdirectories for a directory.
    public var linkCount: Int
    /// Owner (`st_uid`).
    public var userID: UInt32
    /// Group (`st_gid`).
    public var groupID: UInt32
    /// Device number of a character or block special file (`st_rdev`).
    public var device: UInt64
    /// The logical size in bytes (`st_size`) whatever the stored form; a symbolic link's
    /// target length; tmpfs's 40 + 20 per entry for a directory.
    public var size: Int64
    /// Memory the contents hold now: the page-rounded size while materialised, the
    /// compressed bytes' slot or mapping once compressed (like `st_blocks` in spirit).
    public var storedSize: Int64
    /// Last data access (`st_atim`), updated with Linux's `relatime` rule.
    public var accessTime: Timestamp
    /// Last data modification (`st_mtim`).
    public var modificationTime: Timestamp
    /// Last status change (`st_ctim`).
    public var changeTime: Timestamp

    /// The file type part of `mode` (`S_IFMT` bits).
    public var type: FileType { mode.type }
    /// The permission part of `mode`.
    public var permissions: FilePermissions { mode.permissions }
    /// 512-byte blocks held (`st_blocks`).
    public var blocks: Int64 { (storedSize + 511) / 512 }
  }

  /// One entry that `readdir` returns.
  public struct DirectoryEntry: Sendable, Hashable {
    /// The entry's name as text (`d_name`; see `fileName` for the exact bytes).
    public var name: String { fileName.description }
    /// The entry's name, byte for byte.
    public var fileName: FileName
    /// The inode the entry names (`d_ino`).
    public var inode: UInt64
    /// The inode's type (`d_type`).
    public var type: FileType
    /// Where a listing continues after this entry (`d_off`): stays valid while the
    /// directory changes.
    public var cookie: UInt64
  }

  /// What `statfs` reports.
  public struct FileSystemStatus: Sendable, Hashable {
    /// Block size (`f_bsize`, `f_frsize`): the page size.
    public var blockSize: Int
    /// Blocks in all (`f_blocks`): the quota, or all of physical memory without one.
    public var blocks: UInt64
    /// Blocks free (`f_bfree`, `f_bavail`).
    public var freeBlocks: UInt64
    /// Inodes in all (`f_files`) and free (`f_ffree`): no fixed limit, reported as
    /// used + free with free = `UInt32.max`.
    public var files: UInt64
    public var freeFiles: UInt64
    /// Longest name (`f_namemax`).
    public var maximumNameLength: Int
  }
}
