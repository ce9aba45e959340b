import Synchronization
import SystemPackage

/// A slot number together with the generation of the object it was reserved for.
///
/// Numbers are reused (lowest free first); the generation is not, so a handle kept past a
/// `remove` never reaches the object that reuses its number.
public struct SlotHandle: Hashable, Sendable, CustomStringConvertible {
  /// The slot (descriptor) number, what POSIX callers see.
  public let number: Int32
  /// Bumped each time the number is reserved; never reused.
  public let generation: UInt64

  /// A handle from its parts (as `reserve` or `handle(for:)` returned them).
  public init(number: Int32, generation: UInt64) {
    self.number = number
    self.generation = generation
  }

  public var description: String { "\(number)#\(generation)" }
}

/// The low two bits of a slot's state word.
private enum SlotState {
  static let free: UInt = 0
  static let reserved: UInt = 1
  static let open: UInt = 2
  static let closing: UInt = 3
  static let mask: UInt = 3
}

/// A fixed-capacity table of numbered slots holding class references (a descriptor
/// table), without locks.
///
/// Each slot has a state word (`generation << 2 | state`, state free/reserved/open/
/// closing) and an object word. `reserve` takes the lowest free number from a
/// `FreeSlotBitmap` and bumps the slot's generation; `install` publishes the object;
/// `lookup` reads state, object, state again and retries if the state moved, so it never
/// returns an object of another generation or a reserved-but-not-installed slot; the
/// object is retained while the thread is pinned in `domain`, so a concurrent `remove`
/// cannot free it under the reader (the table's reference is retired, not released).
///
/// Thread-safe. `install` and `cancel` take a number `reserve` returned (a programming
/// error otherwise: precondition failure); lookups of bad numbers just answer nil.
public final class SlotTable<Object: AnyObject & Sendable>: Sendable {
  private typealias State = SlotState

  /// Most slots open at once.
  public let capacity: Int
  /// Where removed objects wait for readers to finish.
  public let domain: EpochDomain
  /// Two words per slot, side by side: state at `2n`, object bits at `2n + 1`.
  private let words: AtomicWords
  private let freeNumbers: FreeSlotBitmap
  private let used = Atomic<Int>(0)

  /// - Parameters:
  ///   - capacity: numbers run from 0 to `capacity - 1` (at most `Int32.max`).
  ///   - domain: the reclamation domain (default: the process-wide one).
  public init(capacity: Int, domain: EpochDomain = .shared) {
    precondition(capacity > 0 && capacity <= Int(Int32.max), "capacity out of range")
    self.capacity = capacity
    self.domain = domain
    words = AtomicWords(count: capacity * 2)
    freeNumbers = FreeSlotBitmap(capacity: capacity)
  }

  deinit {
    for number in 0..<capacity {
      let bits = words[2 * number + 1].load(ordering: .acquiring)
      if let object = UnsafeRawPointer(bitPattern: bits) {
        Unmanaged<Object>.fromOpaque(object).release()
      }
    }
    words.deallocate()
  }

  @inline(__always) private func state(_ number: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
    words.base + 2 * number
  }

  @inline(__always) private func object(_ number: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
    words.base + 2 * number + 1
  }

  /// Takes the lowest free number for an object being created; `lookup` answers nil for
  /// it until `install`.
  ///
  /// - Throws: `Errno.tooManyOpenFiles` (EMFILE) when all `capacity` numbers are taken.
  public func reserve() throws(Errno) -> SlotHandle {
    guard let number = freeNumbers.take() else { throw .tooManyOpenFiles }
    let current = state(number).pointee.load(ordering: .acquiring)
    precondition(current & State.mask == State.free, "slot \(number) taken but not free")
    let generation = (current >> 2) &+ 1
    state(number).pointee.store(generation << 2 | State.reserved, ordering: .releasing)
    used.wrappingAdd(1, ordering: .relaxed)
    return SlotHandle(number: Int32(number), generation: UInt64(generation))
  }

  /// Publishes `object` under a number `reserve` returned.
  public func install(_ object: Object, at number: Int32) {
    let index = Int(number)
    precondition(index >= 0 && index < capacity, "install at \(number): out of range")
    let current = state(index).pointee.load(ordering: .acquiring)
    precondition(current & State.mask == State.reserved, "install at \(number) without reserve")
    self.object(index).pointee.store(UInt(bitPattern: Unmanaged.passRetained(object).toOpaque()), ordering: .releasing)
    state(index).pointee.store(current & ~State.mask | State.open, ordering: .releasing)
  }

  /// Publishes `object` under `handle`, which `reserve` returned.
  public func install(_ object: Object, at handle: SlotHandle) {
    precondition(generation(of: handle.number, in: [State.reserved]) == handle.generation,
                 "install at \(handle): not the current reservation")
    install(object, at: handle.number)
  }

  /// Gives back a number `reserve` returned, unused.
  public func cancel(_ number: Int32) {
    let index = Int(number)
    precondition(index >= 0 && index < capacity, "cancel of \(number): out of range")
    let current = state(index).pointee.load(ordering: .acquiring)
    precondition(current & State.mask == State.reserved, "cancel of \(number) without reserve")
    state(index).pointee.store(current & ~State.mask | State.free, ordering: .releasing)
    freeNumbers.free(index)
    used.wrappingSubtract(1, ordering: .relaxed)
  }

  /// The object open under `number`, retained for the caller, or nil if none is (free,
  /// only reserved, being removed, or a number out of range).
  public func lookup(_ number: Int32) -> Object? {
    lookup(number, generation: nil)
  }

  /// The object open under `handle`, or nil if the number was removed since, even if it
  /// now holds a newer object.
  public func lookup(_ handle: SlotHandle) -> Object? {
    lookup(handle.number, generation: handle.generation)
  }

  private func lookup(_ number: Int32, generation: UInt64?) -> Object? {
    let index = Int(number)
    guard index >= 0 && index < capacity else { return nil }
    return domain.withParticipant { _ -> Object? in
      while true {
        let before = state(index).pointee.load(ordering: .acquiring)
        guard before & State.mask == State.open else { return nil }
        if let generation, UInt64(before >> 2) != generation { return nil }
        let bits = object(index).pointee.load(ordering: .acquiring)
        // Same state word after the object read: the object belongs to that generation.
        guard state(index).pointee.load(ordering: .acquiring) == before else { continue }
        return Unmanaged<Object>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
      }
    }
  }

  /// The handle of the object open under `number`, if any.
  public func handle(for number: Int32) -> SlotHandle? {
    let index = Int(number)
    guard index >= 0 && index < capacity else { return nil }
    guard let generation = generation(of: number, in: [State.open]) else { return nil }
    return SlotHandle(number: number, generation: generation)
  }

  private func generation(of number: Int32, in states: [UInt]) -> UInt64? {
    let index = Int(number)
    guard index >= 0 && index < capacity else { return nil }
    let current = state(index).pointee.load(ordering: .acquiring)
    guard states.contains(current & State.mask) else { return nil }
    return UInt64(current >> 2)
  }

  /// Removes and returns the object open under `number` (nil if none is). Its number is
  /// free for `reserve` at once; the table's reference is released only after every
  /// thread that might be reading it has unpinned.
  public func remove(_ number: Int32) -> Object? {
    remove(number, generation: nil)
  }

  /// Removes the object open under `handle`; nil if that generation is no longer open.
  public func remove(_ handle: SlotHandle) -> Object? {
    remove(handle.number, generation: handle.generation)
  }

  private func remove(_ number: Int32, generation: UInt64?) -> Object? {
    let index = Int(number)
    guard index >= 0 && index < capacity else { return nil }
    var current = state(index).pointee.load(ordering: .acquiring)
    while true {
      guard current & State.mask == State.open else { return nil }
      if let generation, UInt64(current >> 2) != generation { return nil }
      let (exchanged, seen) = state(index).pointee.compareExchange(
        expected: current, desired: current & ~State.mask | State.closing,
        ordering: .acquiringAndReleasing)
      if exchanged { break }
      current = seen
    }
    // We own the slot now (closing): take the object out, then free the number.
    let bits = object(index).pointee.exchange(0, ordering: .acquiringAndReleasing)
    state(index).pointee.store(current & ~State.mask | State.free, ordering: .releasing)
    freeNumbers.free(index)
    used.wrappingSubtract(1, ordering: .relaxed)
    let raw = UnsafeMutableRawPointer(bitPattern: bits)!
    let removed = Unmanaged<Object>.fromOpaque(raw).takeUnretainedValue()  // the caller's +1
    domain.retire(retained: raw)  // the table's +1, once readers are done
    return removed
  }

  /// Numbers reserved or open now.
  public var count: Int { used.load(ordering: .relaxed) }
}
