import Synchronization
import SystemPackage

/// The offset of an open file description, shared by every thread using its descriptor.
///
/// As on Linux (where `read`/`write` on one description serialise on its position), two
/// threads reading or writing through one descriptor get distinct, adjacent byte ranges:
/// `claim` moves the offset past the range a call will transfer, atomically, and returns
/// where that range starts. `seek` gives `lseek` semantics.
public struct AtomicFileOffset: ~Copyable, Sendable {
  private let offset: Atomic<Int64>

  public init(_ initial: Int64 = 0) {
    precondition(initial >= 0, "negative file offset")
    offset = Atomic(initial)
  }

  /// The offset now.
  public var current: Int64 { offset.load(ordering: .acquiring) }

  /// Claims `[start, start + n)` for one read or write and moves the offset to its end.
  ///
  /// - Parameters:
  ///   - count: bytes the call wants (must be >= 0).
  ///   - limit: for a read, the file size: the range stops there (n = 0 at or past it),
  ///     so the offset never runs past the end of the file. nil for a write.
  /// - Returns: the range claimed (possibly empty).
  /// - Throws: `Errno.invalidArgument` (EINVAL) for a negative count;
  ///   `Errno.fileTooLarge` (EFBIG) if the end would pass `Int64.max`.
  public func claim(_ count: Int, limit: Int64? = nil) throws(Errno) -> Range<Int64> {
    guard count >= 0 else { throw .invalidArgument }
    var start = offset.load(ordering: .relaxed)
    while true {
      let (sum, overflow) = start.addingReportingOverflow(Int64(count))
      if overflow && limit == nil { throw .fileTooLarge }
      var end = overflow ? Int64.max : sum
      if let limit { end = min(end, max(start, limit)) }
      if end == start { return start..<start }
      let (exchanged, seen) = offset.compareExchange(
        expected: start, desired: end, ordering: .acquiringAndReleasing)
      if exchanged { return start..<end }
      start = seen
    }
  }

  /// After a short transfer, moves the offset back from the end of `claimed` to
  /// `claimed.lowerBound + transferred`, unless another claim came after it (then the
  /// later one decides, and the bytes in between are simply not re-read).
  /// - Returns: whether the offset was moved back.
  @discardableResult
  public func giveBack(_ claimed: Range<Int64>, transferred: Int) -> Bool {
    precondition(transferred >= 0 && Int64(transferred) <= claimed.count, "transferred outside the claim")
    let end = claimed.lowerBound + Int64(transferred)
    if end == claimed.upperBound { return true }
    return offset.compareExchange(expected: claimed.upperBound, desired: end,
                                  ordering: .acquiringAndReleasing).exchanged
  }

  /// Where `lseek` measures from.
  public enum Whence: Sendable {
    /// `SEEK_SET`: from the start of the file.
    case start
    /// `SEEK_CUR`: from the current offset.
    case current
    /// `SEEK_END`: from the end of the file (`size`).
    case end(size: Int64)
  }

  /// Moves the offset, as `lseek` does (the corresponding C function is `lseek`).
  /// - Returns: the new offset.
  /// - Throws: `Errno.invalidArgument` (EINVAL) if the result would be negative;
  ///   `Errno.overflow` (EOVERFLOW) if it does not fit in `Int64`. The offset is unchanged.
  @discardableResult
  public func seek(_ delta: Int64, from whence: Whence) throws(Errno) -> Int64 {
    var current = offset.load(ordering: .relaxed)
    while true {
      let base: Int64
      switch whence {
      case .start: base = 0
      case .current: base = current
      case .end(let size): base = size
      }
      let (target, overflow) = base.addingReportingOverflow(delta)
      if overflow { throw .overflow }
      if target < 0 { throw .invalidArgument }
      let (exchanged, seen) = offset.compareExchange(
        expected: current, desired: target, ordering: .acquiringAndReleasing)
      if exchanged { return target }
      current = seen
    }
  }
}
