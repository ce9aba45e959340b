import SystemPackage
import Synchronization

/// File-system-wide byte counters and the byte quota.
///
/// The quota counts STORED bytes (what memory the contents hold: a materialised file its
/// logical size, a compressed one its compressed size). Space is reserved with a
/// compare-exchange before a write grows a file, so concurrent writers can never
/// overshoot the quota together.
final class Accounting: Sendable {
  let quota: Int
  let storedBytes = Atomic<Int>(0)
  let logicalBytes = Atomic<Int>(0)

  init(quota: Int) { self.quota = quota }

  /// Adds `bytes` (> 0) to the stored total if that stays within the quota.
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
}
