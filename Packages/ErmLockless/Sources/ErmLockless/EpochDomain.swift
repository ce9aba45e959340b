import Synchronization

#if canImport(Glibc)
import Glibc
#endif

private let nextDomainID = Atomic<UInt64>(1)

/// Epoch-based memory reclamation (Fraser's EBR, as in crossbeam-epoch).
///
/// A thread *pins* itself around every access to shared nodes; a reference that is taken
/// out of a shared structure is *retired* instead of released, and its +1 is released
/// once every thread that was pinned at the time has unpinned (two epoch advances). So a
/// thread that found an object may still retain and use it after another thread removed
/// it, and removed objects are freed once nobody can see them.
///
/// Each thread has one record per domain (found through one pthread key). A thread
/// gathers what it retires in a bag of up to `bagCapacity` objects, then seals the bag
/// with the current epoch and pushes it on the domain's stack, where any thread's
/// collection frees it once expired (as crossbeam-epoch does): collecting costs one step
/// per bag, not per object. A thread's last bag is handed over when it exits. `backlog`
/// counts what waits: leak tests compare it with a baseline.
///
/// Thread-safe. Pinning nests. A thread that stays pinned holds back reclamation for
/// everyone (memory grows, nothing breaks); `synchronize` waits for it.
public final class EpochDomain: Sendable {
  /// The process-wide domain, used by structures that are not given one.
  public static let shared = EpochDomain()

  let id: UInt64
  /// The global epoch and the sealed bags, shared with the thread records.
  let shared = SealedBags()
  /// Head of the record list (`Unmanaged<EpochParticipant>` bits, +1 owned by the list).
  private let participants = Atomic<UInt>(0)
  private let participantCount = Atomic<Int>(0)

  /// Retires between two collections by the retiring thread.
  static let collectInterval = 64
  /// Retired objects a thread gathers before sealing them into a bag for collectors.
  static let bagCapacity = 64

  public init() {
    id = nextDomainID.wrappingAdd(1, ordering: .relaxed).oldValue
  }

  deinit {
    // No thread can be pinned here (pinning needs a reference to the domain): free all.
    var node = participants.load(ordering: .acquiring)
    while node != 0 {
      let participant = Unmanaged<EpochParticipant>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
      let record = participant.takeUnretainedValue()
      record.lockLocal()
      record.domainGone.store(true, ordering: .releasing)
      let local = record.local
      record.local = []
      record.localCount.store(0, ordering: .relaxed)
      record.unlockLocal()
      for retired in local { retired.free(retired.object) }
      node = record.nextInDomain.load(ordering: .acquiring)
      participant.release()
    }
    shared.freeAll()
  }

  // MARK: Pinning

  /// Runs `body` with the calling thread pinned: objects read from structures of this
  /// domain inside `body` are not freed before `body` returns.
  ///
  /// Inlinable so that callers in other modules get it specialised for their own result
  /// and error types (otherwise each call looks up generic type metadata at run time); the
  /// pinning itself stays behind two plain calls.
  @inlinable @inline(__always)
  public func withPinnedThread<Result, Failure: Error>(
    _ body: () throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let record = pinCallingThread()
    defer { unpinCallingThread(record) }
    return try body()
  }

  /// Pins the calling thread; returns its record (unretained) for `unpinCallingThread`.
  @usableFromInline
  func pinCallingThread() -> UnsafeMutableRawPointer {
    let record = participant()
    record._withUnsafeGuaranteedRef { pin($0) }
    return record.toOpaque()
  }

  /// Ends a pin `pinCallingThread` took.
  @usableFromInline
  func unpinCallingThread(_ record: UnsafeMutableRawPointer) {
    Unmanaged<EpochParticipant>.fromOpaque(record)._withUnsafeGuaranteedRef { unpin($0) }
  }

  /// Runs `body` pinned, handing it this thread's record (its `index` picks counter
  /// stripes). No reference count is written on the way.
  @inline(__always)
  func withParticipant<Result>(_ body: (EpochParticipant) -> Result) -> Result {
    participant()._withUnsafeGuaranteedRef { participant in
      pin(participant)
      defer { unpin(participant) }
      return body(participant)
    }
  }

  @inline(__always)
  func pin(_ participant: EpochParticipant) {
    if participant.depth == 0 {
      // Sequentially consistent (a plain load on x86): with the retirer's fence and
      // epoch load it puts our fence after theirs whenever we read a later epoch, so a
      // reader pinned at e + 1 cannot still see an object retired at e.
      let epoch = shared.epoch.load(ordering: .sequentiallyConsistent)
      #if arch(x86_64)
      // A locked exchange is a full barrier on x86 and cheaper than `mfence` (crossbeam
      // does the same); release so a collector that reads it sees our earlier pins' reads.
      _ = participant.state.exchange(epoch << 1 | 1, ordering: .sequentiallyConsistent)
      #else
      participant.state.store(epoch << 1 | 1, ordering: .releasing)
      // Orders the store before our reads of shared pointers (store-load; cf. crossbeam).
      atomicMemoryFence(ordering: .sequentiallyConsistent)
      #endif
    }
    participant.depth += 1
  }

  @inline(__always)
  func unpin(_ participant: EpochParticipant) {
    participant.depth -= 1
    if participant.depth == 0 {
      let state = participant.state.load(ordering: .relaxed)
      participant.state.store(state & ~1, ordering: .releasing)
      if participant.retiresSinceCollect >= Self.collectInterval { collectPeriodically(participant) }
    }
  }

  /// This thread's record in this domain, joining on first use.
  @inline(__always)
  func participant() -> Unmanaged<EpochParticipant> {
    let thread = ThreadRecord.current()
    let cached = thread._withUnsafeGuaranteedRef { $0.lastDomainID == id ? $0.lastParticipant : nil }
    if let cached { return cached }
    return thread._withUnsafeGuaranteedRef { participantSlowPath($0) }
  }

  private func participantSlowPath(_ thread: ThreadRecord) -> Unmanaged<EpochParticipant> {
    thread.entries.removeAll { $0.domainGone.load(ordering: .acquiring) }
    let found = thread.entries.first(where: { $0.domainID == id }) ?? {
      let joined = join()
      thread.entries.append(joined)
      return joined
    }()
    thread.lastDomainID = id
    thread.lastParticipant = Unmanaged.passUnretained(found)
    return thread.lastParticipant!
  }

  /// Claims a record left by an exited thread, or adds a new one.
  private func join() -> EpochParticipant {
    var node = participants.load(ordering: .acquiring)
    while node != 0 {
      let record = Unmanaged<EpochParticipant>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
        .takeUnretainedValue()
      if !record.owned.load(ordering: .relaxed),
        record.owned.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
      {
        return record
      }
      node = record.nextInDomain.load(ordering: .acquiring)
    }
    let index = participantCount.wrappingAdd(1, ordering: .relaxed).oldValue
    let record = EpochParticipant(index: index, domainID: id, bags: shared)
    let bits = UInt(bitPattern: Unmanaged.passRetained(record).toOpaque())
    var head = participants.load(ordering: .relaxed)
    while true {
      record.nextInDomain.store(head, ordering: .relaxed)
      let (exchanged, current) = participants.compareExchange(
        expected: head, desired: bits, ordering: .releasing)
      if exchanged { return record }
      head = current
    }
  }

  private func forEachParticipant(_ body: (EpochParticipant) -> Void) {
    var node = participants.load(ordering: .acquiring)
    while node != 0 {
      let record = Unmanaged<EpochParticipant>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
        .takeUnretainedValue()
      body(record)
      node = record.nextInDomain.load(ordering: .acquiring)
    }
  }

  // MARK: Retiring and reclaiming

  /// Keeps `object` alive until every thread pinned now has unpinned, then drops the
  /// reference this call took. Use it when removing an object from a structure that
  /// readers reach without locks.
  public func retire(_ object: AnyObject) {
    retire(retained: Unmanaged.passRetained(object).toOpaque())
  }

  /// Takes over a +1 reference (an `Unmanaged` opaque pointer) and releases it after the
  /// grace period.
  func retire(retained object: UnsafeMutableRawPointer) {
    retire(object, free: { Unmanaged<AnyObject>.fromOpaque($0).release() })
  }

  /// Calls `free(object)` after the grace period (for memory that is not a class instance).
  func retire(_ object: UnsafeMutableRawPointer, free: @convention(c) (UnsafeMutableRawPointer) -> Void) {
    participant()._withUnsafeGuaranteedRef { retire(object, free: free, participant: $0) }
  }

  /// `retire(_:free:)`, then seals the calling thread's bag at once: for big objects (a
  /// hash map's old table can be megabytes), which must not wait in a thread-local bag
  /// until that thread retires 63 more things. Any thread's next `collect` or
  /// `synchronize` after the grace period frees it.
  func retireSealed(_ object: UnsafeMutableRawPointer, free: @convention(c) (UnsafeMutableRawPointer) -> Void) {
    participant()._withUnsafeGuaranteedRef { participant in
      retire(object, free: free, participant: participant)
      seal(participant)
    }
  }

  private func retire(_ object: UnsafeMutableRawPointer, free: @convention(c) (UnsafeMutableRawPointer) -> Void,
                      participant: EpochParticipant) {
    participant.lockLocal()  // uncontended unless `synchronize` is sealing this bag
    participant.local.append(RetiredObject(object: object, free: free))
    participant.localCount.store(participant.local.count, ordering: .relaxed)
    let full = participant.local.count >= Self.bagCapacity
    participant.unlockLocal()
    if full { seal(participant) }
    participant.retiresSinceCollect += 1
    // Collect unpinned: a thread pinned at an older epoch would block its own advance
    // (a pinned retire collects when its outermost pin ends, in `unpin`).
    if participant.depth == 0 && participant.retiresSinceCollect >= Self.collectInterval {
      collectPeriodically(participant)
    }
  }

  /// Seals `participant`'s retired objects with an epoch read after they became
  /// unreachable (the callers' unlinks), so the bag is never freed too early.
  /// Any thread may seal any participant's bag (under its `localLock`).
  private func seal(_ participant: EpochParticipant) {
    participant.lockLocal()
    defer { participant.unlockLocal() }
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    participant.seal(epoch: shared.epoch.load(ordering: .sequentiallyConsistent))
  }

  /// Every `collectInterval` retires: advance the epoch if possible and free the sealed
  /// bags whose grace period has passed.
  private func collectPeriodically(_ participant: EpochParticipant) {
    participant.retiresSinceCollect = 0
    reclaim(upTo: tryAdvance())
  }

  /// Moves the global epoch on if every pinned thread has seen the current one.
  /// - Returns: the global epoch afterwards.
  @discardableResult
  func tryAdvance() -> UInt64 {
    let epoch = shared.epoch.load(ordering: .sequentiallyConsistent)
    atomicMemoryFence(ordering: .sequentiallyConsistent)
    var node = participants.load(ordering: .acquiring)
    while node != 0 {
      let record = Unmanaged<EpochParticipant>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
        .takeUnretainedValue()
      let state = record.state.load(ordering: .acquiring)
      if state & 1 == 1 && state >> 1 != epoch { return epoch }
      node = record.nextInDomain.load(ordering: .acquiring)
    }
    let (exchanged, current) = shared.epoch.compareExchange(
      expected: epoch, desired: epoch + 1, ordering: .acquiringAndReleasing)
    return exchanged ? epoch + 1 : current
  }

  /// Frees the objects of every sealed bag at least two epochs older than `global`; puts
  /// the other bags back. Returns how many objects were freed.
  @discardableResult
  private func reclaim(upTo global: UInt64) -> Int {
    var bits = shared.takeAll()
    var keptFirst: SealedBag?
    var keptLast: SealedBag?
    var kept = 0
    var expired: [SealedBag] = []
    while bits != 0 {
      let (bag, next) = SealedBags.unlink(bits)
      bits = next
      if bag.epoch &+ 2 <= global {
        expired.append(bag)
      } else {
        // Chain it (each link owns a +1 on the bag it points to).
        if let last = keptLast {
          last.next = UInt(bitPattern: Unmanaged.passRetained(bag).toOpaque())
        } else {
          keptFirst = bag
        }
        keptLast = bag
        kept += bag.objects.count
      }
    }
    if let keptFirst, let keptLast {
      shared.pending.wrappingSubtract(kept, ordering: .relaxed)  // push adds them again
      shared.push(first: Unmanaged.passRetained(keptFirst), last: keptLast, count: kept)
    }
    var freed = 0
    for bag in expired { freed += bag.objects.count }
    shared.pending.wrappingSubtract(freed, ordering: .relaxed)
    // Freed last: a deinit may retire more, after our bookkeeping.
    for bag in expired {
      for retired in bag.objects { retired.free(retired.object) }
    }
    return freed
  }

  /// Frees what can be freed now: seals this thread's retired objects, advances the
  /// epoch if possible and frees every sealed bag whose grace period has passed.
  /// - Returns: how many objects were freed.
  @discardableResult
  public func collect() -> Int {
    participant()._withUnsafeGuaranteedRef { seal($0) }
    return reclaim(upTo: tryAdvance())
  }

  /// Waits until every thread pinned at the call has unpinned (a grace period, like
  /// `synchronize_rcu`), then frees what any thread retired before the call: it seals
  /// every thread's bag first (each under its own lock, which retiring threads hold only
  /// for an append), so an idle thread's last retirements do not wait for it. Blocks
  /// while another thread stays pinned; must not be called while this thread is pinned.
  public func synchronize() {
    participant()._withUnsafeGuaranteedRef { participant in
      precondition(participant.depth == 0, "synchronize() called while pinned")
    }
    forEachParticipant { seal($0) }
    let target = shared.epoch.load(ordering: .sequentiallyConsistent) + 2
    while tryAdvance() < target { sched_yield() }
    collect()
  }

  /// Retired objects not freed yet (all threads, sealed or not). Exact when no thread is
  /// retiring or collecting.
  public var backlog: Int {
    var total = shared.pending.load(ordering: .relaxed)
    forEachParticipant { total += $0.localCount.load(ordering: .relaxed) }
    return total
  }

  /// Threads that have a record in this domain (records are reused after a thread exits).
  public var participantRecords: Int { participantCount.load(ordering: .relaxed) }
}
