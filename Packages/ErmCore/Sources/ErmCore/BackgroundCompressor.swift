import Dispatch
import ErmCompress
import Synchronization

/// The `.background` compression mode: closes hand their compression jobs to background
/// threads, one per core, and return at once. Each thread runs one job at a time, so small
/// files (one chunk each: no parallelism inside a file) use every core, and a job held
/// up (a big file, a slow codec) does not hold the others back; a big file's job also
/// fans out on the worker pool. At most `maxPendingBytes` of plain bytes wait; a close that
/// would pass it compresses itself, so a burst of writes cannot pile up unbounded memory
/// (docs/decisions/compress-on-close.md).
final class BackgroundCompressor: Sendable {
  private struct Queue: ~Copyable {
    var jobs: [(bytes: Int, work: @Sendable () -> Void)] = []
    var first = 0
    var pendingBytes = 0
    /// Jobs taken off the queue and not finished yet.
    var running = 0
    /// Plain bytes compressed since the last `malloc_trim`.
    var sinceTrim = 0
    var stopped = false
    var threads = 0

    var isEmpty: Bool { first == jobs.count }
  }

  let maxPendingBytes: Int
  private let queue = Mutex(Queue())
  private let wakeUp = DispatchSemaphore(value: 0)

  /// - Parameter threads: background threads (default: one per core).
  init(maxPendingBytes: Int, threads: Int = WorkerPool.defaultThreadCount) {
    self.maxPendingBytes = maxPendingBytes
    // Plain pthreads (no Foundation in ErmCore); each holds the compressor until stopped.
    for _ in 0..<max(1, threads) {
      var thread = pthread_t()
      let context = Unmanaged.passRetained(self).toOpaque()
      let rc = pthread_create(&thread, nil, { context in
        Unmanaged<BackgroundCompressor>.fromOpaque(context!).takeRetainedValue().drain()
        return nil
      }, context)
      if rc == 0 {
        pthread_detach(thread)
        queue.withLock { $0.threads += 1 }
      } else {
        Unmanaged<BackgroundCompressor>.fromOpaque(context).release()
      }
    }
    // No thread at all: every close compresses itself.
    queue.withLock { if $0.threads == 0 { $0.stopped = true } }
  }

  /// Queues `work` for `bytes` of plain bytes; false when that would pass the bound (the
  /// caller then runs it itself).
  func submit(bytes: Int, _ work: @escaping @Sendable () -> Void) -> Bool {
    let accepted = queue.withLock { queue -> Bool in
      guard !queue.stopped, queue.pendingBytes + bytes <= maxPendingBytes else { return false }
      queue.jobs.append((bytes, work))
      queue.pendingBytes += bytes
      return true
    }
    if accepted { wakeUp.signal() }
    return accepted
  }

  /// Plain bytes waiting for compression now.
  var pendingBytes: Int { queue.withLock { $0.pendingBytes } }

  /// Returns once every job queued before the call has run (tests, benchmarks, exit).
  func waitUntilIdle() {
    while queue.withLock({ !$0.isEmpty || $0.running > 0 }) {
      var nap = timespec(tv_sec: 0, tv_nsec: 200_000)
      nanosleep(&nap, nil)
    }
  }

  /// Stops taking jobs; the threads run what is queued, then end.
  func stop() {
    let threads = queue.withLock { queue -> Int in
      queue.stopped = true
      return queue.threads
    }
    for _ in 0..<threads { wakeUp.signal() }
  }

  private func drain() {
    while true {
      wakeUp.wait()
      while let job = take() {
        job.work()
        let trim = queue.withLock { queue -> Bool in
          queue.pendingBytes -= job.bytes
          queue.sinceTrim += job.bytes
          // The last job of a burst: small files' plain bytes lived on malloc's heap
          // while they waited and are freed now, between long-lived allocations.
          guard queue.isEmpty, queue.running == 1, queue.sinceTrim >= Self.trimAfterBytes else { return false }
          queue.sinceTrim = 0
          return true
        }
        // Gives the freed pages back before reporting idle (measured: RSS +78 MiB after
        // /usr/include without this, +45 MiB with it, +36 MiB when closes compress).
        if trim { _ = ermcore_malloc_trim(0) }
        queue.withLock { $0.running -= 1 }
      }
      if queue.withLock({ $0.stopped && $0.isEmpty }) { return }
    }
  }

  private func take() -> (bytes: Int, work: @Sendable () -> Void)? {
    queue.withLock { queue in
      guard !queue.isEmpty else { return nil }
      let job = queue.jobs[queue.first]
      queue.first += 1
      if queue.first == queue.jobs.count {
        queue.jobs.removeAll(keepingCapacity: true)
        queue.first = 0
      } else if queue.first >= 1024 && queue.first * 2 >= queue.jobs.count {
        queue.jobs.removeFirst(queue.first)  // a long backlog: drop what was taken
        queue.first = 0
      }
      queue.running += 1
      return job
    }
  }

  /// Plain bytes compressed since the last `malloc_trim` before the next one.
  static let trimAfterBytes = 8 << 20
}

/// glibc's `malloc_trim` (declared in malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func ermcore_malloc_trim(_ pad: Int) -> Int32

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
