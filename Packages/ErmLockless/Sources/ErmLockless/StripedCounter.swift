import Synchronization

/// A counter split over cache-line-separated cells, so threads adding at once do not
/// fight over one cache line (Click's `ConcurrentAutoTable` idea). Reading sums the cells:
/// exact when no one is adding, a momentary estimate otherwise.
final class StripedCounter: @unchecked Sendable {
  /// 128 bytes between cells: the adjacent-line prefetcher pairs 64-byte lines.
  private static let spacing = 16
  private let cells: UnsafeMutablePointer<Atomic<Int>>
  private let mask: Int

  init(stripes: Int = 16) {
    precondition(stripes > 0 && stripes & (stripes - 1) == 0, "stripes must be a power of two")
    mask = stripes - 1
    cells = .allocate(capacity: stripes * Self.spacing)
    for index in 0..<(stripes * Self.spacing) { (cells + index).initialize(to: Atomic(0)) }
  }

  deinit {
    cells.deinitialize(count: (mask + 1) * Self.spacing)
    cells.deallocate()
  }

  /// Adds `delta` to the cell chosen by `stripe` (any integer; a per-thread index is best).
  @inline(__always)
  func add(_ delta: Int, stripe: Int) {
    cells[(stripe & mask) * Self.spacing].wrappingAdd(delta, ordering: .relaxed)
  }

  var sum: Int {
    var total = 0
    for stripe in 0...mask { total &+= cells[stripe * Self.spacing].load(ordering: .relaxed) }
    return total
  }
}
