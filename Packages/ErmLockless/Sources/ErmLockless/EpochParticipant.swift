import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One retired object: `free(object)` runs after its grace period (for a class
/// reference, `free` releases the +1 it owns).
struct RetiredObject {
  var object: UnsafeMutableRawPointer
  var free: @convention(c) (UnsafeMutableRawPointer) -> Void
}

/// Up to `EpochDomain.bagCapacity` retired objects, sealed with an epoch read after the
/// last of them was retired: all can be freed once the global epoch is two past it.
final class SealedBag: @unchecked Sendable {
  let epoch: UInt64
  let objects: [RetiredObject]
  /// The next bag on a stack or chain (`Unmanaged<SealedBag>` bits, +1 owned by this
  /// link). Written only before the bag is published, or by whoever took the chain.
  var next: UInt = 0

  init(epoch: UInt64, objects: [RetiredObject]) {
    self.epoch = epoch
    self.objects = objects
  }
}

/// What a domain shares with its thread records: the global epoch and a Treiber stack of
/// sealed bags (any thread pushes, a collector takes the whole stack at once, so no node
/// is ever popped alone and there is no ABA). Records hold this rather than the domain,
/// so a thread that exits after the domain is gone can still hand its last bag over
/// (freed with this object).
final class SealedBags: Sendable {
  /// The global epoch.
  let epoch = Atomic<UInt64>(0)
  /// `Unmanaged<SealedBag>` bits of the top bag (+1 owned by the stack).
  private let head = Atomic<UInt>(0)
  /// Objects in the bags on the stack.
  let pending = Atomic<Int>(0)

  deinit { freeAll() }

  /// Pushes a chain `first ... last` (linked through `next`, +1 on `first` handed over)
  /// holding `count` objects. The top is never dereferenced: a collector may be freeing it.
  func push(first: Unmanaged<SealedBag>, last: SealedBag, count: Int) {
    pending.wrappingAdd(count, ordering: .relaxed)
    let bits = UInt(bitPattern: first.toOpaque())
    var current = head.load(ordering: .relaxed)
    while true {
      last.next = current  // the stack's +1 on the old top moves into this link
      let (exchanged, seen) = head.compareExchange(expected: current, desired: bits, ordering: .acquiringAndReleasing)
      if exchanged { return }
      current = seen
    }
  }

  /// Takes every bag off the stack: the bits of the first (+1 owned by the caller).
  func takeAll() -> UInt { head.exchange(0, ordering: .acquiringAndReleasing) }

  /// Takes ownership of the bag at `bits` and of its link: returns it and its successor.
  static func unlink(_ bits: UInt) -> (bag: SealedBag, next: UInt) {
    let bag = Unmanaged<SealedBag>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeRetainedValue()
    let next = bag.next
    bag.next = 0
    return (bag, next)
  }

  /// Frees every object on the stack, whatever its epoch (no thread can see them).
  func freeAll() {
    var bits = takeAll()
    while bits != 0 {
      let (bag, next) = Self.unlink(bits)
      pending.wrappingSubtract(bag.objects.count, ordering: .relaxed)
      for retired in bag.objects { retired.free(retired.object) }
      bits = next
    }
  }
}

/// A thread's record in one `EpochDomain`.
///
/// `state` is `epoch << 1 | pinned`, written by the owning thread only. Retired objects
/// collect in `local` (owner only) and go to the domain's `bags` in sealed bags of up to
/// `bagCapacity`, where any collector can free them. A record outlives its thread and is
/// reused by the next thread that joins the domain (`owned`).
final class EpochParticipant: @unchecked Sendable {
  let index: Int
  let domainID: UInt64
  let bags: SealedBags
  let state = Atomic<UInt64>(0)
  let owned = Atomic<Bool>(true)
  /// Set when the domain is gone, so thread records drop their entry.
  let domainGone = Atomic<Bool>(false)
  /// Next record in the domain's list; set once, before the record is published.
  let nextInDomain = Atomic<UInt>(0)
  /// `local.count`, readable by other threads (for `backlog`).
  let localCount = Atomic<Int>(0)
  /// Held by the domain's deinit and by thread exit, the two non-owners of `local`.
  let localLock = Atomic<Bool>(false)

  // Owner-thread-only fields (handed over through `owned`, acquire/release).
  var local: [RetiredObject] = []
  var depth = 0
  var retiresSinceCollect = 0
  var collections = 0

  init(index: Int, domainID: UInt64, bags: SealedBags) {
    self.index = index
    self.domainID = domainID
    self.bags = bags
    local.reserveCapacity(EpochDomain.bagCapacity)
  }

  /// Moves `local` into a bag sealed with `epoch` on the domain's stack.
  func seal(epoch: UInt64) {
    guard !local.isEmpty else { return }
    let bag = SealedBag(epoch: epoch, objects: local)
    local = []
    local.reserveCapacity(EpochDomain.bagCapacity)
    localCount.store(0, ordering: .relaxed)
    bags.push(first: Unmanaged.passRetained(bag), last: bag, count: bag.objects.count)
  }

  func lockLocal() {
    while !localLock.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
      sched_yield()
    }
  }

  func unlockLocal() { localLock.store(false, ordering: .releasing) }

  /// Called on the owning thread's exit: hands its retired objects to the domain and
  /// frees the record for the next thread.
  func threadExited() {
    depth = 0
    state.store(state.load(ordering: .relaxed) & ~1, ordering: .releasing)
    lockLocal()
    if !domainGone.load(ordering: .acquiring) {
      atomicMemoryFence(ordering: .sequentiallyConsistent)
      seal(epoch: bags.epoch.load(ordering: .sequentiallyConsistent))
    }
    unlockLocal()
    owned.store(false, ordering: .releasing)
  }
}

/// Per-thread list of the domains this thread has joined (one pthread key for all domains,
/// so domains can come and go without consuming keys).
final class ThreadRecord {
  var entries: [EpochParticipant] = []
  /// The participant used last (kept alive by `entries`), the fast path for a thread
  /// working in one domain; unmanaged so that pinning writes no reference count.
  var lastDomainID: UInt64 = 0
  var lastParticipant: Unmanaged<EpochParticipant>?

  static let key: pthread_key_t = {
    var key = pthread_key_t()
    let status = pthread_key_create(&key) { raw in
      guard let raw else { return }
      let record = Unmanaged<ThreadRecord>.fromOpaque(raw).takeRetainedValue()
      record.lastDomainID = 0
      record.lastParticipant = nil
      for participant in record.entries { participant.threadExited() }
      record.entries.removeAll()
    }
    precondition(status == 0, "pthread_key_create failed: \(status)")
    return key
  }()

  /// This thread's record, created on first use (owned by the thread's key value).
  @inline(__always)
  static func current() -> Unmanaged<ThreadRecord> {
    if let raw = pthread_getspecific(key) { return Unmanaged<ThreadRecord>.fromOpaque(raw) }
    let record = Unmanaged.passRetained(ThreadRecord())
    pthread_setspecific(key, record.toOpaque())
    return record
  }
}
