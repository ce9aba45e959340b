#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind a reader-writer lock (`pthread_rwlock_t`, writers preferred): the locked
/// backends' tree and descriptor table. Readers (lookups, `stat`, opens of existing files,
/// descriptor lookups) share it; changes take it alone.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex, whose
/// unlock hands the lock to the first sleeping waiter; with more threads than cores that
/// waiter is often not running, and every other thread waits for it to be scheduled
/// (measured: 8 threads on 2 cores ran the lookup mix at a few percent of 1 thread).
/// glibc's lock lets whichever thread is running take it, and readers never wait for
/// each other. Writers are preferred so a stream of lookups cannot starve a `create`.
/// ThreadSanitizer understands it (it does not see `Mutex` on Linux).
final class ReaderWriterLock<Value: Sendable>: @unchecked Sendable {
  private let lock: UnsafeMutablePointer<pthread_rwlock_t>
  /// Behind a pointer so that concurrent readers do not go through Swift's dynamic
  /// exclusivity checks (the lock provides the exclusion).
  private let value: UnsafeMutablePointer<Value>

  init(_ initial: Value) {
    lock = .allocate(capacity: 1)
    lock.initialize(to: pthread_rwlock_t())
    var attributes = pthread_rwlockattr_t()
    pthread_rwlockattr_init(&attributes)
    pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
    let status = pthread_rwlock_init(lock, &attributes)
    pthread_rwlockattr_destroy(&attributes)
    precondition(status == 0, "pthread_rwlock_init failed: \(status)")
    value = .allocate(capacity: 1)
    value.initialize(to: initial)
  }

  deinit {
    pthread_rwlock_destroy(lock)
    lock.deallocate()
    value.deinitialize(count: 1)
    value.deallocate()
  }

  /// Runs `body` with the lock shared.
  func reading<R, E: Error>(_ body: (borrowing Value) throws(E) -> R) throws(E) -> R {
    pthread_rwlock_rdlock(lock)
    defer { pthread_rwlock_unlock(lock) }
    return try body(value.pointee)
  }

  /// Runs `body` with the lock held alone.
  func writing<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
    pthread_rwlock_wrlock(lock)
    defer { pthread_rwlock_unlock(lock) }
    return try body(&value.pointee)
  }
}
