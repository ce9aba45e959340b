import ErmAlloc

extension ErmFS {
  /// What the file system holds, plus the allocator's own figures.
  public struct Statistics: Sendable, Equatable {
    /// Inodes other than directories that have a name (a file with two hard links
    /// counts once).
    public var files: Int
    /// Directories, the root not counted.
    public var directories: Int
    /// Sum of the logical sizes of all contents still held (unlinked files that are
    /// still open included).
    public var logicalBytes: Int
    /// Memory those contents hold, as allocated: page-rounded plain bytes, the slab slot
    /// or mapping of compressed bytes, the output of compressions in flight, and bytes a
    /// snapshot still reads after the file moved on. This is what `byteQuota` limits.
    public var storedBytes: Int
    /// Memory of the per-descriptor chunk caches (not limited by the quota).
    public var cacheBytes: Int
    /// Descriptors open now.
    public var openDescriptors: Int
    /// The allocator's statistics (shared by everything that uses that allocator).
    public var allocator: AllocatorStatistics

    /// Stored bytes ÷ logical bytes (1 when there is nothing); below 1 means compression
    /// saves memory.
    public var ratio: Double {
      logicalBytes == 0 ? 1 : Double(storedBytes) / Double(logicalBytes)
    }
  }
}
