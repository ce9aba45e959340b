/// Fixed-size bytes: a size-classed slab slot when small (up to
/// ``PageAllocator/largestSlabBlob``), its own anonymous mapping when large. Freed in
/// `deinit` (a slab run left empty is unmapped). Not internally synchronised, so not
/// `Sendable`: writers serialise with readers themselves.
public final class Blob {
  enum Storage {
    case empty
    case slab(SlabRun, Int)
    case mapping(length: Int)
  }

  /// Where a blob's bytes live.
  public enum Placement: Sendable, Equatable {
    /// A zero-byte blob holds no memory.
    case empty
    /// A slot of the given size in a shared slab run.
    case slab(slotSize: Int)
    /// Its own mapping of the given (page-multiple) length.
    case mapping(length: Int)
  }

  /// The allocator that accounts for this blob.
  public let allocator: PageAllocator
  /// The number of bytes held.
  public let count: Int
  let base: UnsafeMutableRawPointer?
  let storage: Storage

  init(allocator: PageAllocator, count: Int, base: UnsafeMutableRawPointer?, storage: Storage) {
    self.allocator = allocator
    self.count = count
    self.base = base
    self.storage = storage
  }

  deinit {
    switch storage {
    case .empty:
      break
    case .slab(let run, let slot):
      allocator.returnSlot(slot, of: run, count: count)
    case .mapping(let length):
      allocator.calls.unmap(base!, length)
      allocator.account(live: -count, reserved: -length, regions: -1)
    }
  }

  /// Where the bytes live.
  public var placement: Placement {
    switch storage {
    case .empty: .empty
    case .slab(let run, _): .slab(slotSize: run.slotSize)
    case .mapping(let length): .mapping(length: length)
    }
  }

  /// Address of the first byte (stable for the blob's life); nil when `count == 0`.
  public var baseAddress: UnsafeMutableRawPointer? { base }

  /// Calls `body` with the blob's bytes.
  @discardableResult
  public func withUnsafeBytes<R, E: Error>(
    _ body: (UnsafeRawBufferPointer) throws(E) -> R
  ) throws(E) -> R {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }

  /// Calls `body` with the blob's bytes, writable.
  @discardableResult
  public func withUnsafeMutableBytes<R, E: Error>(
    _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R
  ) throws(E) -> R {
    try body(UnsafeMutableRawBufferPointer(start: base, count: count))
  }
}
