import Foundation
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

#if canImport(Glibc)
import Glibc
#endif

// Support for the race, leak and reference-count tests. They also run under
// ThreadSanitizer (`make test-sanitizers`), which does not see `Synchronization.Mutex` on
// Linux: the harness uses real pthreads, atomics and joins only, and the tests stay off
// the file-contents lock's write paths (docs/decisions/lockless-core.md).

/// Iteration counts scale with ERMCORE_TEST_SCALE (the sanitizer run uses 0.1).
func scaled(_ count: Int) -> Int {
  let scale = ProcessInfo.processInfo.environment["ERMCORE_TEST_SCALE"].flatMap(Double.init) ?? 1
  return max(1, Int(Double(count) * scale))
}

/// Runs `body(index)` on `threads` pthreads that start together, and joins them (the
/// join orders every write of a thread before the caller's checks).
func runThreads(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
  final class Start: @unchecked Sendable {
    let body: @Sendable (Int) -> Void
    let index: Int
    let ready: UnsafeMutablePointer<Atomic<Int>>
    let total: Int
    init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int, _ ready: UnsafeMutablePointer<Atomic<Int>>,
         _ total: Int) {
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

/// Counts events of a few kinds seen on worker threads, asserted on the test thread after
/// the join.
final class EventCount: @unchecked Sendable {
  private let counts: UnsafeMutablePointer<Atomic<Int>>
  let kinds: Int

  init(_ kinds: Int = 1) {
    self.kinds = kinds
    counts = .allocate(capacity: kinds)
    for kind in 0..<kinds { (counts + kind).initialize(to: Atomic(0)) }
  }

  deinit {
    counts.deinitialize(count: kinds)
    counts.deallocate()
  }

  func add(_ kind: Int = 0, _ amount: Int = 1) { counts[kind].wrappingAdd(amount, ordering: .relaxed) }
  subscript(kind: Int) -> Int { counts[kind].load(ordering: .acquiring) }
  var value: Int { self[0] }
}

/// A flag set once by any thread.
final class Flag: Sendable {
  private let word = Atomic<Bool>(false)
  func set() { word.store(true, ordering: .releasing) }
  var isSet: Bool { word.load(ordering: .acquiring) }
}

/// The errno a call threw, or nil when it succeeded.
func errnoOf(_ body: () throws(Errno) -> Void) -> Errno? {
  do { try body() } catch { return error }
  return nil
}

extension ErmFS {
  /// Inodes freed so far (each exactly once: a second free would trap in the reference
  /// count).
  var freedInodes: Int { lifetime.deathCount }

  /// Waits until nothing this file system retired is waiting any more, and returns what
  /// still waits (0 when every worker thread has exited).
  func settleReclamation() -> Int {
    domain.synchronize()
    return domain.backlog
  }

  /// Directories with an entry table (the root included) and entries in all of them.
  var treeSizes: (directories: Int, entries: Int) {
    (try? withBackend { $0.namespace.sizes }) ?? (0, 0)
  }
}
