import Synchronization

/// An atomic reference count for objects whose lifetime is managed by hand (an inode's
/// open count, a cache entry's users): `release` says whether it dropped the last
/// reference, and `retainIfNotZero` lets a lookup take a reference only while the
/// object is still alive, so it never revives one whose last release already happened.
///
/// Orderings: `release` is acquire-release, so everything done under every reference
/// happens before the code that runs after the last release (the "free").
public struct AtomicReferenceCount: ~Copyable, Sendable {
  private let count: Atomic<Int>

  /// - Parameter initial: references held at creation (default 1, the creator's).
  public init(_ initial: Int = 1) {
    precondition(initial >= 0, "negative reference count")
    count = Atomic(initial)
  }

  /// References held now (a momentary value).
  public var current: Int { count.load(ordering: .acquiring) }

  /// Takes one more reference; the caller must already hold one.
  public func retain() {
    let old = count.wrappingAdd(1, ordering: .relaxed).oldValue
    precondition(old > 0, "retain of an object whose count is \(old)")
  }

  /// Takes a reference if at least one is still held (the object is alive).
  /// - Returns: false once the count has reached 0; it never goes up from there.
  public func retainIfNotZero() -> Bool {
    var old = count.load(ordering: .relaxed)
    while old > 0 {
      let (exchanged, seen) = count.compareExchange(
        expected: old, desired: old + 1, ordering: .acquiring)
      if exchanged { return true }
      old = seen
    }
    return false
  }

  /// Drops one reference.
  /// - Returns: true if it was the last one: the caller frees the object, exactly once.
  public func release() -> Bool {
    let old = count.wrappingSubtract(1, ordering: .acquiringAndReleasing).oldValue
    precondition(old > 0, "release of an object whose count is \(old)")
    return old == 1
  }
}
