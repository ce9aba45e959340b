import CErmAlloc
import Synchronization
import SystemPackage

/// Owns the accounting and the blob slabs of ``ExtentBuffer``s and ``Blob``s.
///
/// Memory comes from private anonymous mappings (`mmap`), never from the malloc heap, so
/// freeing a buffer or an emptied slab run returns its pages to the OS at once and the
/// heap cannot fragment. Thread-safe: one lock guards the counters and the slabs; buffer
/// growth calls `mremap` outside the lock.
public final class PageAllocator: Sendable {
  /// The process-wide allocator that buffers use unless given another one.
  public static let shared = PageAllocator()

  /// The system page size (`sysconf(_SC_PAGESIZE)`): the granularity of every mapping.
  public static var pageSize: Int { systemPageSize }
  private static let systemPageSize = Int(erm_page_size())

  /// The largest blob kept in a size-classed slab slot (1 MiB); larger blobs get their own
  /// mapping. Slabs keep the number of mappings far below vm.max_map_count however many
  /// blobs (compressed files) are live.
  public static var largestSlabBlob: Int { SizeClasses.largest }

  /// The slot sizes of the slabs, smallest first.
  public static var slabSlotSizes: [Int] { SizeClasses.sizes }

  struct State: ~Copyable {
    var statistics = AllocatorStatistics()
    /// Per size class, the runs that have at least one free slot.
    var partialRuns: [[SlabRun]] = Array(repeating: [], count: SizeClasses.sizes.count)
  }

  let state = Mutex(State())
  let calls = MappingCalls()

  public init() {}

  /// A consistent snapshot of live bytes, reserved bytes and mappings.
  public var statistics: AllocatorStatistics {
    state.withLock { $0.statistics }
  }

  /// Mapping system calls made by this allocator so far.
  public var mappingCallCounts: MappingCallCounts { calls.counts }

  /// Resident memory of the whole process in bytes, from `/proc/self/statm` (includes
  /// everything, not only this allocator's pages).
  public static func processResidentBytes() throws(Errno) -> Int {
    let bytes = erm_process_resident_bytes()
    guard bytes >= 0 else { throw .ioError }
    return bytes
  }

  /// Peak resident memory of the process in bytes (`getrusage` `ru_maxrss`).
  public static func processPeakResidentBytes() throws(Errno) -> Int {
    let bytes = erm_process_peak_resident_bytes()
    guard bytes >= 0 else { throw .ioError }
    return bytes
  }

  // MARK: Blobs

  /// A zero-filled blob of `count` bytes: a shared slab slot when `count <= largestSlabBlob`,
  /// otherwise its own anonymous mapping (`mmap`).
  ///
  /// - Throws: `.invalidArgument` when `count < 0`, `.noMemory` when mapping fails.
  public func makeBlob(count: Int) throws(Errno) -> Blob {
    let blob = try allocateBlob(count: count)
    if case .slab(let run, _) = blob.storage, !run.pageClass, let base = blob.base {
      // A reused small slot still holds its previous owner's bytes (and a free-list
      // link). Page-class slots are zero already: never touched, or discarded when freed.
      base.initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }
    return blob
  }

  /// A blob holding a copy of `bytes` (`memcpy` into a slot or a new mapping).
  ///
  /// - Throws: `.noMemory` when mapping fails.
  public func makeBlob(copying bytes: UnsafeRawBufferPointer) throws(Errno) -> Blob {
    let blob = try allocateBlob(count: bytes.count)
    if let base = blob.base, let source = bytes.baseAddress {
      base.copyMemory(from: source, byteCount: bytes.count)
    }
    return blob
  }

  /// Takes ownership of `buffer`'s first `count` bytes; `buffer` is left empty (capacity 0)
  /// and should not be used afterwards.
  ///
  /// Up to `largestSlabBlob` (1 MiB): the bytes are copied into a shared slab slot and the
  /// buffer's mapping is released (`munmap`), so stored files do not each keep a mapping
  /// (a memcpy of at most 1 MiB, cheap next to the compression that produced it).
  /// Larger: the mapping is trimmed in place to
  /// the page-rounded count (`mremap`, never moves) and kept, so nothing is copied and the
  /// blob's base address is the buffer's.
  ///
  /// - Throws: `.invalidArgument` when `count` is negative or larger than `buffer.count`;
  ///   `.noMemory` when a slab run cannot be mapped (the buffer is then left untouched).
  public func makeBlob(adopting buffer: ExtentBuffer, count: Int) throws(Errno) -> Blob {
    guard count >= 0, count <= buffer.count else { throw .invalidArgument }
    if count <= SizeClasses.largest {
      let blob = try allocateBlob(count: count)
      if let base = blob.base, let source = buffer.baseAddress {
        base.copyMemory(from: source, byteCount: count)
      }
      buffer.release()
      return blob
    }
    let (base, capacity, held) = buffer.detach()
    buffer.allocator.account(live: -held, reserved: -capacity, regions: -1)
    let length = roundUpToPage(count)!
    var mapping = capacity
    if length < capacity {
      do {
        _ = try calls.remap(base, from: capacity, to: length, mayMove: false)
        mapping = length
      } catch {
        // Trimming may fail only when splitting the mapping hits vm.max_map_count;
        // dropping the pages still returns the memory, the address space stays.
        calls.discard(base + length, capacity - length)
      }
    }
    account(live: count, reserved: mapping, regions: 1)
    return Blob(allocator: self, count: count, base: base, storage: .mapping(length: mapping))
  }

  func allocateBlob(count: Int) throws(Errno) -> Blob {
    guard count >= 0 else { throw .invalidArgument }
    if count == 0 {
      return Blob(allocator: self, count: 0, base: nil, storage: .empty)
    }
    if count <= SizeClasses.largest {
      let (run, slot) = try takeSlot(count: count)
      return Blob(allocator: self, count: count, base: run.address(ofSlot: slot),
                  storage: .slab(run, slot))
    }
    guard let length = roundUpToPage(count) else { throw .noMemory }
    let base = try calls.map(length)
    account(live: count, reserved: length, regions: 1)
    return Blob(allocator: self, count: count, base: base, storage: .mapping(length: length))
  }

  private func takeSlot(count: Int) throws(Errno) -> (SlabRun, Int) {
    let classIndex = SizeClasses.index(for: count)
    return try state.withLock { (state) throws(Errno) -> (SlabRun, Int) in
      let run: SlabRun
      if let last = state.partialRuns[classIndex].last {
        run = last
      } else {
        let slotSize = SizeClasses.sizes[classIndex]
        let length = SizeClasses.runLength(slotSize: slotSize)
        run = SlabRun(base: try calls.map(length), length: length, slotSize: slotSize,
                      classIndex: classIndex)
        run.partialPosition = state.partialRuns[classIndex].count
        state.partialRuns[classIndex].append(run)
        // A page-class run counts as reserved only through its slots in use (below):
        // the rest of it has never been touched or was discarded.
        if !run.pageClass { state.statistics.bytesReserved += length }
        state.statistics.regions += 1
      }
      let slot = run.takeSlot()
      if run.pageClass { state.statistics.bytesReserved += run.slotSize }
      if run.isFull {
        Self.removePartial(run, from: &state.partialRuns[classIndex])
      }
      state.statistics.bytesLive += count
      return (run, slot)
    }
  }

  /// Returns a slot; a run left empty is unmapped so its pages go back to the OS.
  func returnSlot(_ slot: Int, of run: SlabRun, count: Int) {
    state.withLock { state in
      let wasFull = run.isFull
      run.returnSlot(slot)
      state.statistics.bytesLive -= count
      if run.pageClass { state.statistics.bytesReserved -= run.slotSize }
      if run.used == 0 {
        if !wasFull { Self.removePartial(run, from: &state.partialRuns[run.classIndex]) }
        calls.unmap(run.base, run.length)
        if !run.pageClass { state.statistics.bytesReserved -= run.length }
        state.statistics.regions -= 1
      } else {
        if wasFull {
          run.partialPosition = state.partialRuns[run.classIndex].count
          state.partialRuns[run.classIndex].append(run)
        }
        // Big slots (4 KiB+ classes) hold whole pages: give them back now instead of
        // when the whole run empties; they fault in as zero pages on reuse. A page-class
        // slot goes back whole (its free-list entry is out of band).
        if run.pageClass {
          calls.discard(run.address(ofSlot: slot), run.slotSize)
        } else if let (offset, length) = run.wholePages(inSlot: slot) {
          calls.discard(run.base + offset, length)
        }
      }
    }
  }

  private static func removePartial(_ run: SlabRun, from list: inout [SlabRun]) {
    let position = run.partialPosition
    let last = list.removeLast()
    if last !== run {
      list[position] = last
      last.partialPosition = position
    }
    run.partialPosition = -1
  }

  func account(live: Int, reserved: Int, regions: Int) {
    state.withLock {
      $0.statistics.bytesLive += live
      $0.statistics.bytesReserved += reserved
      $0.statistics.regions += regions
    }
  }
}
