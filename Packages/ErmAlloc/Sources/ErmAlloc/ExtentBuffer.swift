import CErmAlloc
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// A growable, page-granular byte buffer on its own private anonymous mapping.
///
/// Growing past the capacity calls `mremap(MREMAP_MAYMOVE)`: the kernel moves page-table
/// entries, never the bytes, and the capacity at least doubles so a buffer grown in small
/// steps makes O(log n) calls. Shrinking unmaps the pages past the new end (`mremap`), so
/// the memory goes back to the OS at once. Invariant: bytes in `[count, capacity)` are
/// zero, which is what makes growing within the capacity free.
///
/// *Small on the heap* (opt-in): a buffer made with `smallOnHeap: true` keeps up to
/// `heapLimit` bytes in `malloc` memory and moves to its own mapping (one copy) when it
/// grows past that. A small file then costs no `mmap`/`munmap` and no page faults of a
/// fresh mapping; its memory goes back to the malloc heap, not at once to the OS.
///
/// Not internally synchronised, so not `Sendable`: the owner serialises access (ErmCore
/// wraps it in a type whose synchronisation it documents). Released in `deinit`.
public final class ExtentBuffer {
  /// The allocator that accounts for this buffer.
  public let allocator: PageAllocator
  /// The number of bytes held.
  public private(set) var count: Int = 0
  /// The length held: the mapping (a page multiple) or the heap block, `>= count`.
  public private(set) var capacity: Int = 0
  private var base: UnsafeMutableRawPointer? = nil
  /// Whether small sizes live on the heap (chosen at creation).
  public let smallOnHeap: Bool
  /// Whether the bytes are on the heap now (only while `capacity <= heapLimit`).
  public private(set) var isOnHeap = false

  /// The most bytes a `smallOnHeap` buffer keeps on the heap.
  public static let heapLimit = 64 * 1024

  /// Creates an empty buffer with at least `capacity` bytes mapped (`mmap`), or on the
  /// heap for a `smallOnHeap` buffer of at most `heapLimit` bytes.
  ///
  /// - Throws: `.invalidArgument` when `capacity < 0`, `.noMemory` when mapping fails.
  public init(allocator: PageAllocator = .shared, capacity: Int = 0, smallOnHeap: Bool = false) throws(Errno) {
    self.allocator = allocator
    self.smallOnHeap = smallOnHeap
    guard capacity >= 0 else { throw .invalidArgument }
    if capacity > 0 { try grow(toAtLeast: capacity, geometric: false) }
  }

  deinit { release() }

  /// Base of the bytes; valid until the next resize or reserve (the mapping may move).
  /// `nil` when `capacity == 0`.
  public var baseAddress: UnsafeMutableRawPointer? { base }

  /// Sets `count`. Growing zero-fills `[old count, newCount)` (for free: those bytes are
  /// already zero) and may move the mapping (`mremap` with `MREMAP_MAYMOVE`); shrinking
  /// returns the pages past the page-rounded new end to the OS (`mremap`).
  ///
  /// - Throws: `.invalidArgument` when `newCount < 0`; `.noMemory` when the mapping cannot
  ///   grow (the buffer is then unchanged).
  public func resize(to newCount: Int) throws(Errno) {
    guard newCount >= 0 else { throw .invalidArgument }
    if newCount > capacity {
      try grow(toAtLeast: newCount, geometric: true)
    } else if newCount < count {
      shrink(to: newCount)
    }
    if newCount != count { allocator.account(live: newCount - count, reserved: 0, regions: 0) }
    count = newCount
  }

  /// Like ``resize(to:)``; when growing with `populating: true`, the new pages are also
  /// faulted in writable with one `madvise(MADV_POPULATE_WRITE)` call instead of one page
  /// fault per page (about a quarter less CPU on the churn benchmark). For callers about
  /// to write every new byte (appends), not for sparse growth (`ftruncate`), which would
  /// make untouched pages resident. A hint: on kernels without it (before 5.14) or when
  /// it fails, pages fault in on first write as usual.
  public func resize(to newCount: Int, populating: Bool) throws(Errno) {
    let old = count
    try resize(to: newCount)
    guard populating, newCount > old, !isOnHeap, let base else { return }
    let start = roundUpToPage(old)!
    let end = min(roundUpToPage(newCount)!, capacity)
    if end > start { allocator.calls.populate(base + start, end - start) }
  }

  /// Zeroes the bytes in `range` (within `0..<count`); the whole pages inside it are given
  /// back to the OS (`madvise(MADV_DONTNEED)`, they read back as zero), the partial pages
  /// at its edges are cleared with `memset`. For `fallocate(FALLOC_FL_PUNCH_HOLE)`.
  ///
  /// - Throws: `.invalidArgument` when `range` is not within `0..<count`.
  public func zero(_ range: Range<Int>) throws(Errno) {
    guard range.lowerBound >= 0, range.upperBound <= count else { throw .invalidArgument }
    guard !range.isEmpty, let base else { return }
    if isOnHeap {
      (base + range.lowerBound).initializeMemory(as: UInt8.self, repeating: 0, count: range.count)
      return
    }
    let firstPage = roundUpToPage(range.lowerBound)!
    let lastPage = range.upperBound / PageAllocator.pageSize * PageAllocator.pageSize
    if firstPage < lastPage {
      (base + range.lowerBound).initializeMemory(as: UInt8.self, repeating: 0,
                                                 count: firstPage - range.lowerBound)
      allocator.calls.discard(base + firstPage, lastPage - firstPage)
      (base + lastPage).initializeMemory(as: UInt8.self, repeating: 0,
                                         count: range.upperBound - lastPage)
    } else {
      (base + range.lowerBound).initializeMemory(as: UInt8.self, repeating: 0, count: range.count)
    }
  }

  /// Makes `capacity >= minimumCapacity` (page-rounded, exact: no geometric slack), so
  /// later growth up to it makes no system call.
  ///
  /// - Throws: `.invalidArgument` when negative, `.noMemory` when mapping fails.
  public func reserveCapacity(_ minimumCapacity: Int) throws(Errno) {
    guard minimumCapacity >= 0 else { throw .invalidArgument }
    if minimumCapacity > capacity { try grow(toAtLeast: minimumCapacity, geometric: false) }
  }

  /// Gives back the capacity past the page-rounded `count` (`mremap`, or `munmap` when
  /// empty), e.g. once a file is complete.
  public func shrinkToFit() {
    if isOnHeap {
      if count == 0 { release() }
      return
    }
    let target = roundUpToPage(count)!
    if target < capacity { trim(to: target) }
  }

  /// Calls `body` with the bytes `[0, count)`.
  @discardableResult
  public func withUnsafeBytes<R, E: Error>(
    _ body: (UnsafeRawBufferPointer) throws(E) -> R
  ) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// Calls `body` with the bytes `[0, count)`, writable.
  @discardableResult
  public func withUnsafeMutableBytes<R, E: Error>(
    _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
  ) throws(E) -> R {
    try body(UnsafeMutableRawBufferPointer(start: base, count: count))
  }

  /// Bytes of this buffer's mapping that are resident in RAM (`mincore`): pages never
  /// written are not, nor are pages given back.
  public func residentBytes() throws(Errno) -> Int {
    guard let base, capacity > 0 else { return 0 }
    if isOnHeap { return capacity }  // heap memory: all of it counted
    var pages = 0
    let rc = erm_resident_pages(base, capacity, &pages)
    guard rc == 0 else { throw Errno(rawValue: rc) }
    return pages * PageAllocator.pageSize
  }

  // MARK: Mapping changes

  private func grow(toAtLeast minimum: Int, geometric: Bool) throws(Errno) {
    if smallOnHeap && (isOnHeap || capacity == 0) {
      var target = minimum
      if geometric { target = max(minimum, capacity * 2) }
      if target <= ExtentBuffer.heapLimit { return try growOnHeap(to: target) }
      if minimum <= ExtentBuffer.heapLimit { return try growOnHeap(to: ExtentBuffer.heapLimit) }
    }
    guard let needed = roundUpToPage(minimum) else { throw .noMemory }
    var target = needed
    if geometric {
      let (doubled, overflow) = capacity.multipliedReportingOverflow(by: 2)
      if !overflow { target = max(needed, doubled) }
    }
    let newBase: UnsafeMutableRawPointer
    do {
      newBase = try map(target)
    } catch {
      // The slack is only an optimisation; the exact size may still fit.
      guard target > needed else { throw error }
      target = needed
      newBase = try map(target)
    }
    allocator.account(live: 0, reserved: target - capacity, regions: capacity == 0 || isOnHeap ? 1 : 0)
    if isOnHeap, let old = base {
      // Off the heap into a mapping: one copy, once.
      newBase.copyMemory(from: old, byteCount: count)
      free(old)
      isOnHeap = false
    }
    base = newBase
    capacity = target
  }

  /// Grows (or makes) the heap block to `length` bytes, zeroing the new part.
  private func growOnHeap(to length: Int) throws(Errno) {
    guard let grown = realloc(base, length) else { throw .noMemory }
    (grown + capacity).initializeMemory(as: UInt8.self, repeating: 0, count: length - capacity)
    allocator.account(live: 0, reserved: length - capacity, regions: 0)
    base = grown
    capacity = length
    isOnHeap = true
  }

  private func map(_ length: Int) throws(Errno) -> UnsafeMutableRawPointer {
    guard let base, !isOnHeap else { return try allocator.calls.map(length) }
    return try allocator.calls.remap(base, from: capacity, to: length, mayMove: true)
  }

  /// Keeps `[count, capacity)` zero while giving back whole pages past the new end.
  private func shrink(to newCount: Int) {
    guard let base else { return }
    if isOnHeap {
      (base + newCount).initializeMemory(as: UInt8.self, repeating: 0, count: count - newCount)
      return
    }
    let keep = roundUpToPage(newCount)!
    // Bytes of the last kept page past the new end were live: clear them so a later
    // growth reads zeros. Pages past `keep` are unmapped, their bytes vanish.
    let liveEnd = min(count, keep)
    if liveEnd > newCount {
      (base + newCount).initializeMemory(as: UInt8.self, repeating: 0, count: liveEnd - newCount)
    }
    if keep < capacity { trim(to: keep) }
  }

  /// Shrinks the mapping to `length` (a page multiple < capacity); bytes past it are lost.
  private func trim(to length: Int) {
    guard let base else { return }
    if length == 0 {
      allocator.calls.unmap(base, capacity)
      allocator.account(live: 0, reserved: -capacity, regions: -1)
      self.base = nil
      capacity = 0
      return
    }
    do {
      _ = try allocator.calls.remap(base, from: capacity, to: length, mayMove: false)
      allocator.account(live: 0, reserved: length - capacity, regions: 0)
      capacity = length
    } catch {
      // Only when splitting the mapping hits vm.max_map_count: drop the pages instead
      // (memory returned, reads back as zero) and keep the address range.
      allocator.calls.discard(base + length, capacity - length)
    }
  }

  /// Hands the mapping over (to a blob); the buffer is left empty. Accounting is the
  /// caller's job.
  func detach() -> (base: UnsafeMutableRawPointer, capacity: Int, count: Int) {
    precondition(!isOnHeap, "a heap buffer is copied, never detached")
    let result = (base!, capacity, count)
    base = nil
    capacity = 0
    count = 0
    return result
  }

  /// Unmaps everything and leaves the buffer empty.
  func release() {
    if let base, isOnHeap {
      free(base)
      allocator.account(live: -count, reserved: -capacity, regions: 0)
      isOnHeap = false
    } else if let base {
      allocator.calls.unmap(base, capacity)
      allocator.account(live: -count, reserved: -capacity, regions: -1)
    } else if count != 0 {
      allocator.account(live: -count, reserved: 0, regions: 0)
    }
    base = nil
    capacity = 0
    count = 0
  }
}
