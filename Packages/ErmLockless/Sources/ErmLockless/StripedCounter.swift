import Synchronization

/// A counter that stays one word until threads fight over it, then spreads over
/// cache-line-separated cells (Java's LongAdder; Click's `ConcurrentAutoTable` idea), so
/// a map per directory costs 16 bytes of counter, a contended one 2 KiB. Reading sums
/// the word and the cells: exact when no one is adding, a momentary estimate otherwise.
final class StripedCounter: @unchecked Sendable {
  /// 128 bytes between cells: the adjacent-line prefetcher pairs 64-byte lines.
  private static let spacing = 16
  private static let stripes = 16
  private let base = Atomic<Int>(0)
  /// The cells (`UnsafeMutablePointer<Atomic<Int>>` bits), 0 until the first contention.
  private let cells = Atomic<UInt>(0)

  init() {}

  deinit {
    if let cells = UnsafeMutablePointer<Atomic<Int>>(bitPattern: cells.load(ordering: .acquiring)) {
      cells.deinitialize(count: Self.stripes * Self.spacing)
      cells.deallocate()
    }
  }

  /// Adds `delta`; `stripe` (any integer, a per-thread index is best) picks the cell once
  /// the counter is contended.
  @inline(__always)
  func add(_ delta: Int, stripe: Int) {
    var spread = UnsafeMutablePointer<Atomic<Int>>(bitPattern: cells.load(ordering: .acquiring))
    if spread == nil {
      let current = base.load(ordering: .relaxed)
      if base.compareExchange(expected: current, desired: current &+ delta, ordering: .relaxed).exchanged { return }
      spread = spreadOut()  // another thread changed it under us: contended
    }
    spread![(stripe & (Self.stripes - 1)) * Self.spacing].wrappingAdd(delta, ordering: .relaxed)
  }

  /// Installs the cells (or returns the ones another thread installed).
  private func spreadOut() -> UnsafeMutablePointer<Atomic<Int>> {
    let count = Self.stripes * Self.spacing
    let fresh = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: count)
    for index in 0..<count { (fresh + index).initialize(to: Atomic(0)) }
    let (exchanged, current) = cells.compareExchange(
      expected: 0, desired: UInt(bitPattern: fresh), ordering: .acquiringAndReleasing)
    if exchanged { return fresh }
    fresh.deinitialize(count: count)
    fresh.deallocate()
    return UnsafeMutablePointer(bitPattern: current)!
  }

  /// Whether threads have contended (the cells exist).
  var isSpread: Bool { cells.load(ordering: .acquiring) != 0 }

  var sum: Int {
    var total = base.load(ordering: .relaxed)
    if let cells = UnsafeMutablePointer<Atomic<Int>>(bitPattern: cells.load(ordering: .acquiring)) {
      for stripe in 0..<Self.stripes { total &+= cells[stripe * Self.spacing].load(ordering: .relaxed) }
    }
    return total
  }
}
