#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value behind glibc's adaptive mutex (`PTHREAD_MUTEX_ADAPTIVE_NP`: spins a little,
/// then sleeps on a futex): the locked mode's descriptor table, where nearly every call
/// changes the table and holds it for a few instructions.
///
/// Why not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex whose
/// unlock hands the lock to a sleeping waiter, which with more threads than cores is often
/// not running (8 threads on 2 cores: about 1% of the 1-thread rate with a short critical
/// section). Why not the reader-writer lock: writes dominate here, and writer-preferring
/// `pthread_rwlock_wrlock` under contention ran at 0.3-0.4x of its 1-thread rate where this
/// lock kept 0.95-1.2x (measured in the same run, docs/bench/ermcore-lockless.md).
/// ThreadSanitizer understands it.
final class AdaptiveMutex<Value: Sendable>: @unchecked Sendable {
  private let mutex: UnsafeMutablePointer<pthread_mutex_t>
  /// Behind a pointer: the lock, not Swift's dynamic exclusivity checks, guards it.
  private let value: UnsafeMutablePointer<Value>

  init(_ initial: Value) {
    mutex = .allocate(capacity: 1)
    mutex.initialize(to: pthread_mutex_t())
    var attributes = pthread_mutexattr_t()
    pthread_mutexattr_init(&attributes)
    pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
    let status = pthread_mutex_init(mutex, &attributes)
    pthread_mutexattr_destroy(&attributes)
    precondition(status == 0, "pthread_mutex_init failed: \(status)")
    value = .allocate(capacity: 1)
    value.initialize(to: initial)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    value.deinitialize(count: 1)
    value.deallocate()
  }

  /// Runs `body` with the lock held.
  func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body(&value.pointee)
  }
}
