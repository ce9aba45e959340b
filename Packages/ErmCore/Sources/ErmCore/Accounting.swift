import SystemPackage
import Synchronization

/// File-system-wide byte counters and the byte quota.
///
/// `storedBytes` is the memory file data hold, counted as the allocator hands it out:
/// a materialised file its page-rounded size, a compressed one its slab slot or mapping,
/// plus the output of compressions in flight. The quota limits exactly that, and space is
/// reserved with a compare-exchange before anything grows, so concurrent writers never
/// overshoot it together. Per-descriptor chunk caches are counted apart (`cacheBytes`):
/// they are bounded by the descriptors open and a read never fails with ENOSPC, as on
/// Linux (see docs/decisions/core-accounting.md).
final class Accounting: Sendable {
  let quota: Int
  let storedBytes = Atomic<Int>(0)
  let logicalBytes = Atomic<Int>(0)
  let cacheBytes = Atomic<Int>(0)

  init(quota: Int) { self.quota = quota }

  /// Bytes that can still be reserved.
  var available: Int { max(0, quota - storedBytes.load(ordering: .relaxed)) }

  /// Adds `bytes` to the stored total if that stays within the quota (nothing to do for
  /// `bytes <= 0`).
  ///
  /// - Throws: ENOSPC when it would not.
  func reserve(_ bytes: Int) throws(Errno) {
    guard bytes > 0 else { return }
    var current = storedBytes.load(ordering: .relaxed)
    while true {
      let (sum, overflow) = current.addingReportingOverflow(bytes)
      guard !overflow, sum <= quota else { throw .noSpace }
      let (exchanged, original) = storedBytes.compareExchange(
        expected: current, desired: sum, ordering: .relaxed)
      if exchanged { return }
      current = original
    }
  }

  /// Records a change of stored bytes beyond what was reserved for it (may be negative).
  func adjustStored(_ delta: Int) {
    if delta != 0 { storedBytes.add(delta, ordering: .relaxed) }
  }

  func adjustLogical(_ delta: Int) {
    if delta != 0 { logicalBytes.add(delta, ordering: .relaxed) }
  }

  func adjustCache(_ delta: Int) {
    if delta != 0 { cacheBytes.add(delta, ordering: .relaxed) }
  }
}
