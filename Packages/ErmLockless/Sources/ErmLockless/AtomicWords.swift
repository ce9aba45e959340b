import Synchronization

/// A fixed-size heap array of atomic words.
///
/// `Atomic` needs a stable address and cannot be copied, so arrays of them live in memory
/// we allocate and initialise ourselves; the owner frees it with `deallocate`.
@usableFromInline
struct AtomicWords: @unchecked Sendable {
  @usableFromInline let base: UnsafeMutablePointer<Atomic<UInt>>
  @usableFromInline let count: Int

  init(count: Int, initialValue: UInt = 0) {
    precondition(count > 0)
    base = .allocate(capacity: count)
    for index in 0..<count { (base + index).initialize(to: Atomic(initialValue)) }
    self.count = count
  }

  @inlinable @inline(__always)
  subscript(index: Int) -> Atomic<UInt> {
    unsafeAddress { UnsafePointer(base + index) }
  }

  func deallocate() {
    base.deinitialize(count: count)
    base.deallocate()
  }
}
