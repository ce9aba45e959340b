import Foundation
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Iteration counts scale with ERMLOCKLESS_TEST_SCALE (the sanitizer runs use 0.1):
/// sanitizers slow code 5-20x, and the interleavings they check do not need millions.
func scaled(_ count: Int) -> Int {
  let scale = ProcessInfo.processInfo.environment["ERMLOCKLESS_TEST_SCALE"].flatMap(Double.init) ?? 1
  return max(1, Int(Double(count) * scale))
}

/// Runs `body(index)` on `threads` real pthreads that start together, and joins them.
/// (pthread_join gives every write of a thread a happens-before edge to the caller.)
func runThreads(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
  final class Start: @unchecked Sendable {
    let body: @Sendable (Int) -> Void
    let index: Int
    let ready: UnsafeMutablePointer<Atomic<Int>>
    let total: Int
    init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int, _ ready: UnsafeMutablePointer<Atomic<Int>>, _ total: Int) {
      self.body = body
      self.index = index
      self.ready = ready
      self.total = total
    }
  }
  let ready = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
  ready.initialize(to: Atomic(0))
  defer { ready.deallocate() }
  var handles: [pthread_t] = []
  for index in 0..<threads {
    let start = Unmanaged.passRetained(Start(body, index, ready, threads)).toOpaque()
    var handle = pthread_t()
    let status = pthread_create(&handle, nil, { raw in
      let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
      // Spin until every thread exists, so their work overlaps.
      start.ready.pointee.wrappingAdd(1, ordering: .acquiringAndReleasing)
      while start.ready.pointee.load(ordering: .acquiring) < start.total { sched_yield() }
      start.body(start.index)
      return nil
    }, start)
    precondition(status == 0, "pthread_create: \(status)")
    handles.append(handle)
  }
  for handle in handles { pthread_join(handle, nil) }
}

/// Counts live instances of test objects (deinit decrements), shared by reference.
final class InstanceCounter: Sendable {
  let created = Atomic<Int>(0)
  let destroyed = Atomic<Int>(0)
  var live: Int { created.load(ordering: .acquiring) - destroyed.load(ordering: .acquiring) }
}

/// A value that can tell if it was torn or used after being freed: `check` holds a
/// function of `key` and `serial`, and deinit overwrites both and sets `freed`.
final class TrackedValue: @unchecked Sendable {
  let key: Int
  let serial: Int
  private let check: Atomic<Int>
  let freed = Atomic<Bool>(false)
  let counter: InstanceCounter

  init(key: Int, serial: Int = 0, counter: InstanceCounter) {
    self.key = key
    self.serial = serial
    self.check = Atomic(Self.checksum(key, serial))
    self.counter = counter
    counter.created.wrappingAdd(1, ordering: .relaxed)
  }

  deinit {
    check.store(-1, ordering: .releasing)
    freed.store(true, ordering: .releasing)
    counter.destroyed.wrappingAdd(1, ordering: .acquiringAndReleasing)
  }

  static func checksum(_ key: Int, _ serial: Int) -> Int { (key &* 31) ^ (serial &* 0x9E37_79B9) ^ 0x5bd1e995 }

  /// Intact and not freed.
  var isSound: Bool {
    !freed.load(ordering: .acquiring) && check.load(ordering: .acquiring) == Self.checksum(key, serial)
  }
}

/// Counts failures seen on worker threads; asserted on the test thread after joining.
final class FailureCount: Sendable {
  let count = Atomic<Int>(0)
  func record() { count.wrappingAdd(1, ordering: .relaxed) }
  var value: Int { count.load(ordering: .acquiring) }
}

/// A small deterministic generator (tests must not depend on the global one's seeding).
struct SplitMix: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
