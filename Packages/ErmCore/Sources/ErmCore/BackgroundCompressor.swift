import Dispatch
import Synchronization

/// The `.background` compression mode: closes hand their compression jobs to one thread
/// (which fans each job out on the worker pool) and return at once. At most
/// `maxPendingBytes` of plain bytes wait; a close that would pass it compresses itself,
/// so a burst of writes cannot pile up unbounded memory (docs/decisions/compress-on-close.md).
final class BackgroundCompressor: Sendable {
  private struct Queue: ~Copyable {
    var jobs: [(bytes: Int, work: @Sendable () -> Void)] = []
    var pendingBytes = 0
    /// A job taken off the queue and not finished yet.
    var running = false
    var stopped = false
  }

  let maxPendingBytes: Int
  private let queue = Mutex(Queue())
  private let wakeUp = DispatchSemaphore(value: 0)

  init(maxPendingBytes: Int) {
    self.maxPendingBytes = maxPendingBytes
    // A plain pthread (no Foundation in ErmCore); it holds the compressor until stopped.
    var thread = pthread_t()
    let context = Unmanaged.passRetained(self).toOpaque()
    let rc = pthread_create(&thread, nil, { context in
      Unmanaged<BackgroundCompressor>.fromOpaque(context!).takeRetainedValue().drain()
      return nil
    }, context)
    if rc == 0 {
      pthread_detach(thread)
    } else {
      // No thread: every close compresses itself.
      Unmanaged<BackgroundCompressor>.fromOpaque(context).release()
      queue.withLock { $0.stopped = true }
    }
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
    while queue.withLock({ !$0.jobs.isEmpty || $0.running }) {
      var nap = timespec(tv_sec: 0, tv_nsec: 200_000)
      nanosleep(&nap, nil)
    }
  }

  /// Stops taking jobs; the thread runs what is queued, then ends.
  func stop() {
    queue.withLock { $0.stopped = true }
    wakeUp.signal()
  }

  private func drain() {
    while true {
      wakeUp.wait()
      while let job = take() {
        job.work()
        queue.withLock { queue in
          queue.running = false
          queue.pendingBytes -= job.bytes
        }
      }
      if queue.withLock({ $0.stopped && $0.jobs.isEmpty }) { return }
    }
  }

  private func take() -> (bytes: Int, work: @Sendable () -> Void)? {
    queue.withLock { queue in
      guard !queue.jobs.isEmpty else { return nil }
      queue.running = true
      return queue.jobs.removeFirst()
    }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
