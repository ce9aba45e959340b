import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One retired object waiting for its grace period: `free(object)` runs once the global
/// epoch is two past `epoch` (for a class reference, `free` releases the +1 it owns).
struct RetiredReference {
  var object: UnsafeMutableRawPointer
  var free: @convention(c) (UnsafeMutableRawPointer) -> Void
  var epoch: UInt64
  var next: UnsafeMutablePointer<RetiredReference>?
}

/// A thread's record in one `EpochDomain`.
///
/// `state` is `epoch << 1 | pinned`, written by the owning thread only. Retired references
/// go on `retired`, a stack the owner pushes to and any collector takes whole, so garbage
/// of an idle or exited thread is still freed by others. A record outlives its thread and
/// is reused by the next thread that joins the domain (`owned`).
final class EpochParticipant: @unchecked Sendable {
  let index: Int
  let domainID: UInt64
  let state = Atomic<UInt64>(0)
  let owned = Atomic<Bool>(true)
  /// Set when the domain is gone, so thread records drop their entry.
  let domainGone = Atomic<Bool>(false)
  /// Head of the retired stack (`UnsafeMutablePointer<RetiredReference>` bits, 0 = empty).
  let retired = Atomic<UInt>(0)
  /// Retired references on `retired` that are not freed yet.
  let pending = Atomic<Int>(0)
  /// Next record in the domain's list; set once, before the record is published.
  let nextInDomain = Atomic<UInt>(0)

  // Owner-thread-only fields (handed over through `owned`, acquire/release).
  var depth = 0
  var retiresSinceCollect = 0
  var collections = 0

  init(index: Int, domainID: UInt64) {
    self.index = index
    self.domainID = domainID
  }

  /// Pushes a chain `first ... last` (already linked) on the retired stack.
  func pushRetired(first: UnsafeMutablePointer<RetiredReference>,
                   last: UnsafeMutablePointer<RetiredReference>, count: Int) {
    pending.wrappingAdd(count, ordering: .relaxed)
    var head = retired.load(ordering: .relaxed)
    while true {
      last.pointee.next = UnsafeMutablePointer(bitPattern: head)
      let (exchanged, current) = retired.compareExchange(
        expected: head, desired: UInt(bitPattern: first), ordering: .releasing)
      if exchanged { return }
      head = current
    }
  }

  /// Called on the owning thread's exit: the record becomes free for the next thread; its
  /// retired references stay for any collector.
  func threadExited() {
    depth = 0
    state.store(state.load(ordering: .relaxed) & ~1, ordering: .releasing)
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
