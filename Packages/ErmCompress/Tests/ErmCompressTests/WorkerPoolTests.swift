import Glibc
import Synchronization
import Testing
@testable import ErmCompress

// No Synchronization.Mutex anywhere in these suites: ThreadSanitizer on Linux does not see
// it, and `swift test --sanitize=thread --filter Pool` must report only real races.

/// Runs `body(t)` on `count` fresh pthreads at once and joins them all.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
  final class Start: @unchecked Sendable {
    let body: @Sendable (Int) -> Void
    let index: Int
    init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
  }
  var threads: [pthread_t] = []
  for t in 0..<count {
    var thread = pthread_t()
    let start = Unmanaged.passRetained(Start(body, t)).toOpaque()
    let status = pthread_create(&thread, nil, { raw in
      let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
      start.body(start.index)
      return nil
    }, start)
    precondition(status == 0, "pthread_create failed")
    threads.append(thread)
  }
  for thread in threads { pthread_join(thread, nil) }
}

/// Per-item run counts written only by the item itself: a run lost shows as 0, a run
/// repeated as 2 (and as a race under TSan).
final class RunCounts: @unchecked Sendable {
  let slots: UnsafeMutableBufferPointer<Int>
  init(_ count: Int) { slots = .allocate(capacity: count); slots.initialize(repeating: 0) }
  deinit { slots.deallocate() }
  var allExactlyOnce: Bool { slots.allSatisfy { $0 == 1 } }
}

final class Counter: Sendable {
  let value = Atomic<Int>(0)
  func add(_ n: Int = 1) { value.wrappingAdd(n, ordering: .relaxed) }
  var current: Int { value.load(ordering: .acquiring) }
}

@Suite(.timeLimit(.minutes(2))) struct WorkerPoolTests {
  @Test func everyItemRunsExactlyOnce() {
    let pool = WorkerPool(threadCount: 3)
    defer { pool.stop() }
    for count in [2, 3, 7, 100, 10_000] {
      let runs = RunCounts(count)
      pool.forEach(count) { i, _ in runs.slots[i] += 1 }
      #expect(runs.allExactlyOnce, "\(count) items")
    }
  }

  @Test func manyConcurrentJobsFromMoreThreadsThanCoresLoseNothing() {
    let pool = WorkerPool(threadCount: 2)
    defer { pool.stop() }
    let total = Counter()
    let failures = Counter()
    onThreads(12) { t in
      for job in 0..<40 {
        let count = 1 + (t * 7 + job * 13) % 97
        let runs = RunCounts(count)
        pool.forEach(count) { i, scratch in
          // Touch the thread's scratch as real jobs do.
          if let bytes = try? scratch.bytes(count: 64) { bytes.storeBytes(of: i, as: Int.self) }
          runs.slots[i] += 1
          total.add()
        }
        if !runs.allExactlyOnce { failures.add() }
      }
    }
    #expect(failures.current == 0)
    let expected = (0..<12).reduce(0) { sum, t in sum + (0..<40).reduce(0) { $0 + 1 + (t * 7 + $1 * 13) % 97 } }
    #expect(total.current == expected)
  }

  @Test func jobsStartedInsideJobsDoNotDeadlock() {
    let pool = WorkerPool(threadCount: 1)
    defer { pool.stop() }
    let inner = Counter()
    pool.forEach(8) { _, _ in
      pool.forEach(8) { _, _ in
        pool.forEach(3) { _, _ in inner.add() }
      }
    }
    #expect(inner.current == 8 * 8 * 3)
  }

  @Test func aCallerFinishesItsJobAloneWhenEveryWorkerIsBusy() {
    final class Flag: Sendable { let on = Atomic<Bool>(false) }
    let pool = WorkerPool(threadCount: 1)
    defer { pool.stop() }
    let release = Flag()
    let blocked = Counter()
    let bDone = Counter()
    onThreads(2) { t in
      if t == 0 {
        // Job A holds the only worker (and thread A) until job B is done.
        pool.forEach(2) { _, _ in
          blocked.add()
          while !release.on.load(ordering: .acquiring) { usleep(100) }
        }
      } else {
        while blocked.current < 2 { usleep(100) }
        pool.forEach(50) { _, _ in bDone.add() }
        release.on.store(true, ordering: .releasing)
      }
    }
    #expect(bDone.current == 50)
  }

  @Test func aSingleItemRunsOnTheCaller() {
    let pool = WorkerPool(threadCount: 2)
    defer { pool.stop() }
    let caller = pthread_self()
    var ranOnCaller = false
    pool.forEach(1) { _, _ in ranOnCaller = pthread_equal(pthread_self(), caller) != 0 }
    #expect(ranOnCaller)
  }

  @Test func workersHelpWithALargeJob() {
    let pool = WorkerPool(threadCount: 2)
    defer { pool.stop() }
    let caller = pthread_self()
    let elsewhere = Counter()
    pool.forEach(400) { _, _ in
      if pthread_equal(pthread_self(), caller) == 0 { elsewhere.add() }
      usleep(200)
    }
    #expect(elsewhere.current > 0)
  }

  @Test func afterStopJobsRunOnTheCallerAlone() {
    let pool = WorkerPool(threadCount: 2)
    pool.forEach(10) { _, _ in }
    pool.stop()
    let caller = pthread_self()
    let elsewhere = Counter()
    let runs = RunCounts(100)
    pool.forEach(100) { i, _ in
      runs.slots[i] += 1
      if pthread_equal(pthread_self(), caller) == 0 { elsewhere.add() }
    }
    #expect(runs.allExactlyOnce)
    #expect(elsewhere.current == 0)
  }

  @Test func sharedPoolHasOneWorkerPerCore() {
    #expect(WorkerPool.shared.threadCount == WorkerPool.defaultThreadCount)
    #expect(WorkerPool.defaultThreadCount >= 1)
  }

  @Test func scratchGrowsAndKeepsItsSize() throws {
    let scratch = WorkerScratch()
    #expect(try scratch.bytes(count: 100).count == 100)
    #expect(try scratch.bytes(count: 10).count == 10)
    #expect(scratch.capacity == 100)
    #expect(try scratch.bytes(count: 200_000).count == 200_000)
    #expect(scratch.capacity == 200_000)
  }
}
