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

/// One timestamp readable and writable from any thread without a lock: seconds and
/// nanoseconds travel together in one double-word atomic, so a reader never sees the
/// seconds of one store with the nanoseconds of another.
struct AtomicTimestamp: ~Copyable {
  private let word: Atomic<WordPair>

  init(_ value: ErmFS.Timestamp) { word = Atomic(Self.pack(value)) }

  func load() -> ErmFS.Timestamp {
    let pair = word.load(ordering: .relaxed)
    return ErmFS.Timestamp(seconds: Int64(bitPattern: UInt64(pair.first)),
                           nanoseconds: Int64(pair.second))
  }

  func store(_ value: ErmFS.Timestamp) { word.store(Self.pack(value), ordering: .relaxed) }

  private static func pack(_ value: ErmFS.Timestamp) -> WordPair {
    WordPair(first: UInt(UInt64(bitPattern: value.seconds)), second: UInt(value.nanoseconds))
  }
}
