import CErmAlloc
import Synchronization
import SystemPackage

/// Thin, counted wrappers over the mapping calls of the C shim. Every failure to map
/// becomes `Errno.noMemory`: callers only need to know the memory is not there.
struct MappingCalls: ~Copyable {
  let mmapCount = Atomic<Int>(0)
  let mremapCount = Atomic<Int>(0)
  let munmapCount = Atomic<Int>(0)
  let madviseCount = Atomic<Int>(0)
  let populateCount = Atomic<Int>(0)

  var counts: MappingCallCounts {
    MappingCallCounts(
      mmap: mmapCount.load(ordering: .relaxed),
      mremap: mremapCount.load(ordering: .relaxed),
      munmap: munmapCount.load(ordering: .relaxed),
      madvise: madviseCount.load(ordering: .relaxed),
      populate: populateCount.load(ordering: .relaxed))
  }

  /// `mmap` of `length` (> 0, page multiple) private anonymous zero-filled bytes.
  func map(_ length: Int) throws(Errno) -> UnsafeMutableRawPointer {
    mmapCount.add(1, ordering: .relaxed)
    var out: UnsafeMutableRawPointer? = nil
    guard erm_map_anonymous(length, &out) == 0, let p = out else { throw .noMemory }
    return p
  }

  /// `mremap`; may move the mapping only when `mayMove` (growth). Shrinking never moves.
  func remap(_ base: UnsafeMutableRawPointer, from oldLength: Int, to newLength: Int,
             mayMove: Bool) throws(Errno) -> UnsafeMutableRawPointer {
    mremapCount.add(1, ordering: .relaxed)
    var out: UnsafeMutableRawPointer? = nil
    guard erm_remap(base, oldLength, newLength, mayMove ? 1 : 0, &out) == 0, let p = out else {
      throw .noMemory
    }
    return p
  }

  /// `munmap`. It can fail only when the kernel merged our mapping with a neighbour and
  /// splitting it would exceed vm.max_map_count; the pages are then dropped instead
  /// (memory returned, address range left reserved) rather than crashing.
  func unmap(_ base: UnsafeMutableRawPointer, _ length: Int) {
    munmapCount.add(1, ordering: .relaxed)
    if erm_unmap(base, length) != 0 { discard(base, length) }
  }

  /// `madvise(MADV_DONTNEED)`: frees the pages; they read back as zero.
  func discard(_ base: UnsafeMutableRawPointer, _ length: Int) {
    madviseCount.add(1, ordering: .relaxed)
    let rc = erm_discard(base, length)
    precondition(rc == 0, "madvise(MADV_DONTNEED) on an ErmAlloc mapping failed: errno \(rc)")
  }
}

extension MappingCalls {
  /// `madvise(MADV_POPULATE_WRITE)`: a hint, failures leave the pages to ordinary faults.
  func populate(_ base: UnsafeMutableRawPointer, _ length: Int) {
    populateCount.add(1, ordering: .relaxed)
    _ = erm_populate_write(base, length)
  }
}

/// Rounds `n` (>= 0) up to a page multiple, or nil when that overflows `Int`.
@inline(__always)
func roundUpToPage(_ n: Int) -> Int? {
  let mask = PageAllocator.pageSize - 1
  let (sum, overflow) = n.addingReportingOverflow(mask)
  return overflow ? nil : sum & ~mask
}
