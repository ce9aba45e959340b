/// What a ``PageAllocator`` holds right now.
///
/// - `bytesLive`: bytes callers asked for: the `count` of every live ``ExtentBuffer`` plus
///   the `count` of every live ``Blob``.
/// - `bytesReserved`: memory mapped to hold them: every buffer's page-rounded capacity,
///   every large blob's mapping, every small-class slab run, and the slots in use of
///   page-class runs (their free slots are untouched or discarded: address space only). Untouched pages of an
///   anonymous mapping are not resident, so this is an upper bound on the memory the
///   allocator can cost, not what it costs (see ``ExtentBuffer/residentBytes()`` and
///   ``PageAllocator/processResidentBytes()`` for resident memory).
/// - `regions`: live mappings: one per buffer with capacity > 0, one per large blob, one
///   per slab run.
///
/// The three numbers are read under one lock, so a snapshot is consistent with itself.
public struct AllocatorStatistics: Sendable, Equatable, CustomStringConvertible {
  public var bytesLive: Int
  public var bytesReserved: Int
  public var regions: Int

  public init(bytesLive: Int = 0, bytesReserved: Int = 0, regions: Int = 0) {
    self.bytesLive = bytesLive
    self.bytesReserved = bytesReserved
    self.regions = regions
  }

  public var description: String {
    "live \(bytesLive) B, reserved \(bytesReserved) B, \(regions) regions"
  }
}

/// How many mapping system calls an allocator has made since it was created; lets a test
/// prove that growth costs O(log n) calls rather than one per resize.
public struct MappingCallCounts: Sendable, Equatable, CustomStringConvertible {
  /// `mmap` calls (new buffers, large blobs, slab runs).
  public var mmap: Int
  /// `mremap` calls (buffer growth and shrinking, adopted-buffer trimming).
  public var mremap: Int
  /// `munmap` calls (freed buffers, blobs and empty slab runs).
  public var munmap: Int
  /// `madvise(MADV_DONTNEED)` calls (freed big slab slots; fallback when a shrink
  /// cannot unmap).
  public var madvise: Int
  /// `madvise(MADV_POPULATE_WRITE)` calls (``ExtentBuffer/resize(to:populating:)``).
  public var populate: Int

  public init(mmap: Int = 0, mremap: Int = 0, munmap: Int = 0, madvise: Int = 0, populate: Int = 0) {
    self.mmap = mmap
    self.mremap = mremap
    self.munmap = munmap
    self.madvise = madvise
    self.populate = populate
  }

  public var description: String {
    "mmap \(mmap), mremap \(mremap), munmap \(munmap), madvise \(madvise), populate \(populate)"
  }
}
