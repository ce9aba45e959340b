import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ErmFS {
  /// A point in time as `struct timespec` holds it: seconds and nanoseconds since the epoch.
  ///
  /// Seconds and nanoseconds are kept apart (never folded into one nanosecond count), so
  /// every `time_t` a caller can set reads back unchanged, including times far past 2262.
  public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01 00:00:00 UTC (`tv_sec`); negative before 1970.
    public var seconds: Int64
    /// Nanoseconds past `seconds`, in `0..<1_000_000_000` (`tv_nsec`).
    public var nanoseconds: Int64

    /// Creates a timestamp; `nanoseconds` must be in `0..<1_000_000_000` for `utimens`.
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
      self.seconds = seconds
      self.nanoseconds = nanoseconds
    }

    /// The current time (`clock_gettime(CLOCK_REALTIME)`).
    public static func now() -> Timestamp {
      var ts = timespec()
      clock_gettime(CLOCK_REALTIME, &ts)
      return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec))
    }

    var isValid: Bool { (0..<1_000_000_000).contains(nanoseconds) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool {
      (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    public var description: String {
      let fraction = String(nanoseconds)
      return "\(seconds).\(String(repeating: "0", count: max(0, 9 - fraction.count)))\(fraction)"
    }
  }

  /// What `utimens` does with one timestamp (`UTIME_NOW`, `UTIME_OMIT`, or a value).
  public enum TimeUpdate: Sendable, Hashable {
    /// Set to the current time (`UTIME_NOW`).
    case now
    /// Leave unchanged (`UTIME_OMIT`).
    case omit
    /// Set to this time.
    case set(Timestamp)
  }
}

/// One timestamp readable and writable from any thread without a lock, in 16 bytes, read
/// without writing: a sequence lock whose counter shares a word with the nanoseconds.
///
/// `head` holds a 32-bit sequence number in its high half and the nanoseconds (< 2^30)
/// in its low half; `seconds` holds the seconds. A writer makes the sequence odd (CAS),
/// stores the seconds, then publishes the next even sequence with the new nanoseconds in
/// one release store. A reader loads `head` (acquire), retries while it is odd, loads the
/// seconds, and accepts them if `head` is unchanged after an acquire fence: no writer
/// started in between, so seconds and nanoseconds belong to one store.
///
/// Why not one double-word atomic (`Atomic<WordPair>`, as before): on x86-64 its load is
/// `lock cmpxchg16b`, a write to the inode's cache line on every stat, so threads that
/// only stat the same file took the line from each other. Here a stat is three plain
/// loads. (Measured with `ermcore-bench locking`, docs/bench/ermcore-lockless.md.)
struct AtomicTimestamp: ~Copyable {
  private let head: Atomic<UInt64>
  private let seconds: Atomic<Int64>

  init(_ value: ErmFS.Timestamp) {
    head = Atomic(Self.nanosecondBits(value))
    seconds = Atomic(value.seconds)
  }

  func load() -> ErmFS.Timestamp {
    while true {
      let before = head.load(ordering: .acquiring)
      if before & Self.writing != 0 { continue }  // a writer is between its two stores
      let wholeSeconds = seconds.load(ordering: .relaxed)
      atomicMemoryFence(ordering: .acquiring)
      if head.load(ordering: .relaxed) == before {
        return ErmFS.Timestamp(seconds: wholeSeconds, nanoseconds: Int64(before & Self.nanosecondMask))
      }
    }
  }

  func store(_ value: ErmFS.Timestamp) {
    var current = head.load(ordering: .relaxed)
    while true {
      if current & Self.writing != 0 {  // another writer: wait for it to publish
        current = head.load(ordering: .relaxed)
        continue
      }
      let (exchanged, found) = head.compareExchange(
        expected: current, desired: current &+ Self.writing, ordering: .acquiring)
      if exchanged { break }
      current = found
    }
    atomicMemoryFence(ordering: .releasing)  // the odd sequence is seen before the seconds
    seconds.store(value.seconds, ordering: .relaxed)
    let next = (current & ~Self.nanosecondMask) &+ (Self.writing << 1)  // even again, +1
    head.store(next | Self.nanosecondBits(value), ordering: .releasing)
  }

  /// The lowest bit of the sequence half: set while a writer is storing.
  private static let writing: UInt64 = 1 << 32
  private static let nanosecondMask: UInt64 = (1 << 32) - 1

  private static func nanosecondBits(_ value: ErmFS.Timestamp) -> UInt64 {
    precondition(value.isValid, "nanoseconds out of range: \(value.nanoseconds)")
    return UInt64(value.nanoseconds)
  }
}
