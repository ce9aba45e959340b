import Glibc
import Synchronization

/// A fixed set of threads, sized to the cores, that every caller shares: compressions of
/// many files at once and parallel reads all go through one pool, so ErmCompress never
/// starts a thread per call and never runs more busy threads than `threadCount` plus the
/// callers themselves.
///
/// `forEach(_:_:)` is the one operation: it runs `body` for every index, with the calling
/// thread working on its own job alongside the workers, and returns when all are done.
/// Because a caller always works on its own job and only ever waits for items that are
/// already running, jobs started from inside a job cannot deadlock the pool. Jobs queue
/// in arrival order; idle workers help the oldest job that still has unclaimed items.
///
/// Synchronisation is pthread mutexes/condition variables and atomics (no
/// `Synchronization.Mutex`), so ThreadSanitizer sees every edge.
public final class WorkerPool: @unchecked Sendable {
  /// The pool every ChunkedGzip `pool:` call uses unless given another: one worker per
  /// online core (the caller works too, so a single job uses cores + 1 threads).
  public static let shared = WorkerPool(threadCount: defaultThreadCount)

  /// One worker per online core (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
  public static var defaultThreadCount: Int { Swift.max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

  /// The number of worker threads (started on first use).
  public let threadCount: Int

  private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  // Guarded by `lock`.
  private var queue: [PoolJob] = []
  private var threads: [pthread_t] = []
  private var started = false
  private var stopping = false

  /// A pool of `threadCount` workers (at least 1). Threads start on the first `forEach`.
  public init(threadCount: Int) {
    self.threadCount = Swift.max(1, threadCount)
    pthread_mutex_init(lock, nil)
    pthread_cond_init(wake, nil)
  }

  deinit {
    pthread_cond_destroy(wake)
    pthread_mutex_destroy(lock)
    wake.deallocate()
    lock.deallocate()
  }

  /// Runs `body(i, scratch)` for every `i` in `0..<count`, spread over the workers and the
  /// calling thread, and returns when every call has returned. `scratch` belongs to the
  /// thread running the call. Calls run concurrently and in no particular order: `body`
  /// must only write memory no other index writes. A single item runs on the caller.
  public func forEach(_ count: Int, _ body: (Int, WorkerScratch) -> Void) {
    guard count > 0 else { return }
    guard count > 1, startWorkers() else {
      let scratch = WorkerScratch()
      for i in 0..<count { body(i, scratch) }
      return
    }
    withoutActuallyEscaping(body) { escapable in
      // The job holds the closure through a pointer the caller frees, so no reference to
      // it can outlive this call (withoutActuallyEscaping checks that).
      let closure = UnsafeMutablePointer<(Int, WorkerScratch) -> Void>.allocate(capacity: 1)
      closure.initialize(to: escapable)
      let job = PoolJob(count: count, body: closure)
      pthread_mutex_lock(lock)
      queue.append(job)
      pthread_cond_broadcast(wake)
      pthread_mutex_unlock(lock)

      job.runItems(WorkerScratch())
      job.waitUntilFinished()

      pthread_mutex_lock(lock)
      remove(job)
      pthread_mutex_unlock(lock)
      closure.deinitialize(count: 1)
      closure.deallocate()
    }
  }

  /// Stops the workers once the queue is empty and waits for them to exit. Later
  /// `forEach` calls run on the caller alone. (The shared pool is never stopped.)
  public func stop() {
    pthread_mutex_lock(lock)
    stopping = true
    pthread_cond_broadcast(wake)
    let running = threads
    threads = []
    pthread_mutex_unlock(lock)
    for thread in running { pthread_join(thread, nil) }
  }

  /// Starts the workers on first use; false when the pool is stopped or no thread
  /// could be started (then callers run their jobs alone, which is always correct).
  private func startWorkers() -> Bool {
    pthread_mutex_lock(lock)
    defer { pthread_mutex_unlock(lock) }
    if stopping { return false }
    if started { return !threads.isEmpty }
    started = true
    for _ in 0..<threadCount {
      var thread = pthread_t()
      let context = Unmanaged.passRetained(self).toOpaque()
      let status = pthread_create(&thread, nil, { context in
        let pool = Unmanaged<WorkerPool>.fromOpaque(context!).takeRetainedValue()
        pool.workerLoop()
        return nil
      }, context)
      if status == 0 {
        threads.append(thread)
      } else {
        Unmanaged<WorkerPool>.fromOpaque(context).release()
      }
    }
    return !threads.isEmpty
  }

  private func workerLoop() {
    let scratch = WorkerScratch()
    pthread_mutex_lock(lock)
    while true {
      while queue.isEmpty && !stopping { pthread_cond_wait(wake, lock) }
      guard let job = queue.first else { break }  // empty and stopping
      pthread_mutex_unlock(lock)
      job.runItems(scratch)
      pthread_mutex_lock(lock)
      remove(job)  // every item is claimed; the ones still running finish on their threads
    }
    pthread_mutex_unlock(lock)
  }

  /// Takes `job` off the queue if it is still there. Call with `lock` held.
  private func remove(_ job: PoolJob) {
    if let at = queue.firstIndex(where: { $0 === job }) { queue.remove(at: at) }
  }
}

/// One `forEach` call: items are claimed with an atomic counter, so claiming takes no lock.
final class PoolJob: @unchecked Sendable {
  let count: Int
  private let body: UnsafeMutablePointer<(Int, WorkerScratch) -> Void>
  private let nextItem = Atomic<Int>(0)
  private let finishedItems = Atomic<Int>(0)
  private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
  private var isFinished = false  // guarded by `lock`

  init(count: Int, body: UnsafeMutablePointer<(Int, WorkerScratch) -> Void>) {
    self.count = count
    self.body = body
    pthread_mutex_init(lock, nil)
    pthread_cond_init(done, nil)
  }

  deinit {
    pthread_cond_destroy(done)
    pthread_mutex_destroy(lock)
    done.deallocate()
    lock.deallocate()
  }

  /// Claims and runs items until none is left to claim. `body` is only touched after a
  /// successful claim, so a thread arriving late never reads a freed closure.
  func runItems(_ scratch: WorkerScratch) {
    while true {
      let item = nextItem.wrappingAdd(1, ordering: .relaxed).oldValue
      guard item < count else { return }
      body.pointee(item, scratch)
      // acquiringAndReleasing: the last finisher sees every other item's writes, and the
      // caller sees them through `lock`.
      if finishedItems.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == count {
        pthread_mutex_lock(lock)
        isFinished = true
        pthread_cond_signal(done)
        pthread_mutex_unlock(lock)
      }
    }
  }

  /// Blocks until every item has finished.
  func waitUntilFinished() {
    pthread_mutex_lock(lock)
    while !isFinished { pthread_cond_wait(done, lock) }
    pthread_mutex_unlock(lock)
  }
}
