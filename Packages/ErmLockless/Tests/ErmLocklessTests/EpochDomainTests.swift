import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

@testable import ErmLockless

final class EpochDomainTests: XCTestCase {
  func testRetiredObjectLivesWhileAnotherThreadIsPinned() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let pinned = Atomic<Int>(0)
    let mayUnpin = Atomic<Bool>(false)
    // A reader pins, then the object is retired, then the reader still uses it.
    let shared = Atomic<UInt>(UInt(bitPattern: Unmanaged.passRetained(TrackedValue(key: 7, counter: counter)).toOpaque()))
    let sound = Atomic<Bool>(false)
    let reader = Thread {
      domain.withPinnedThread {
        let bits = shared.load(ordering: .acquiring)
        let value = Unmanaged<TrackedValue>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
        pinned.store(1, ordering: .releasing)
        while !mayUnpin.load(ordering: .acquiring) { sched_yield() }
        sound.store(value._withUnsafeGuaranteedRef { $0.isSound }, ordering: .releasing)
      }
      pinned.store(2, ordering: .releasing)
    }
    reader.start()
    while pinned.load(ordering: .acquiring) != 1 { sched_yield() }
    let bits = shared.exchange(0, ordering: .acquiringAndReleasing)
    domain.retire(retained: UnsafeMutableRawPointer(bitPattern: bits)!)
    for _ in 0..<10 { domain.collect() }
    XCTAssertEqual(counter.live, 1, "freed while a reader that saw it was pinned")
    XCTAssertEqual(domain.backlog, 1)
    mayUnpin.store(true, ordering: .releasing)
    while pinned.load(ordering: .acquiring) != 2 { sched_yield() }
    domain.synchronize()
    XCTAssertTrue(sound.load(ordering: .acquiring))
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(domain.backlog, 0)
  }

  func testSynchronizeFreesEverythingRetiredBefore() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    for key in 0..<1000 { domain.retire(TrackedValue(key: key, counter: counter)) }
    XCTAssertGreaterThan(domain.backlog, 0)
    domain.synchronize()
    XCTAssertEqual(domain.backlog, 0)
    XCTAssertEqual(counter.live, 0)
  }

  /// A thread that retired a few objects (fewer than a bag) and then went idle, still
  /// alive: `synchronize` on another thread frees them too (it seals every thread's bag).
  func testSynchronizeFreesWhatAnIdleLiveThreadRetired() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let retired = Atomic<Bool>(false)
    let mayExit = Atomic<Bool>(false)
    let idle = Thread {
      for key in 0..<10 { domain.retire(TrackedValue(key: key, counter: counter)) }
      retired.store(true, ordering: .releasing)
      while !mayExit.load(ordering: .acquiring) { usleep(1000) }
    }
    idle.start()
    while !retired.load(ordering: .acquiring) { sched_yield() }
    domain.synchronize()
    XCTAssertEqual(counter.live, 0, "objects waited in a live idle thread's bag")
    XCTAssertEqual(domain.backlog, 0)
    mayExit.store(true, ordering: .releasing)
  }

  func testGarbageOfExitedThreadsIsFreedByOthers() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    runThreads(4) { _ in
      for key in 0..<10 { domain.retire(TrackedValue(key: key, counter: counter)) }
    }
    XCTAssertEqual(counter.created.load(ordering: .acquiring), 40)
    domain.synchronize()
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(domain.backlog, 0)
  }

  func testRecordsOfExitedThreadsAreReused() {
    let domain = EpochDomain()
    for _ in 0..<20 {
      runThreads(1) { _ in domain.withPinnedThread {} }
    }
    XCTAssertLessThanOrEqual(domain.participantRecords, 2)
  }

  func testPinningNests() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    domain.withPinnedThread {
      domain.withPinnedThread {}
      // Still pinned: a retire from here must wait for this pin to end.
      domain.retire(TrackedValue(key: 1, counter: counter))
      for _ in 0..<5 { domain.collect() }
      XCTAssertEqual(counter.live, 1)
    }
    domain.synchronize()
    XCTAssertEqual(counter.live, 0)
  }

  func testDomainDeinitFreesWhatIsLeft() {
    let counter = InstanceCounter()
    do {
      let domain = EpochDomain()
      for key in 0..<10 { domain.retire(TrackedValue(key: key, counter: counter)) }
      runThreads(2) { _ in domain.retire(TrackedValue(key: 0, counter: counter)) }
    }
    XCTAssertEqual(counter.live, 0)
  }

  func testManyThreadsRetiringAndReadingStayBounded() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let failures = FailureCount()
    let slot = Atomic<UInt>(UInt(bitPattern: Unmanaged.passRetained(TrackedValue(key: 0, counter: counter)).toOpaque()))
    let rounds = scaled(20_000)
    runThreads(4) { thread in
      for round in 0..<rounds {
        if thread == 0 {
          let fresh = Unmanaged.passRetained(TrackedValue(key: round, counter: counter)).toOpaque()
          let old = slot.exchange(UInt(bitPattern: fresh), ordering: .acquiringAndReleasing)
          domain.retire(retained: UnsafeMutableRawPointer(bitPattern: old)!)
        } else {
          domain.withPinnedThread {
            let bits = slot.load(ordering: .acquiring)
            let sound = Unmanaged<TrackedValue>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
              ._withUnsafeGuaranteedRef { $0.isSound }
            if !sound { failures.record() }
          }
        }
      }
    }
    XCTAssertEqual(failures.value, 0, "a reader saw a freed or torn object")
    domain.synchronize()
    XCTAssertEqual(domain.backlog, 0)
    XCTAssertEqual(counter.live, 1)  // the one still in the slot
    Unmanaged<TrackedValue>.fromOpaque(UnsafeRawPointer(bitPattern: slot.load(ordering: .acquiring))!).release()
    XCTAssertEqual(counter.live, 0)
  }

  /// Threads seal bags while others collect, which takes the whole stack of bags: a
  /// push must never touch a bag a collector is freeing. (`collect` seals the caller's
  /// bag, so every round here pushes a bag and takes the stack; more threads than cores
  /// get preempted inside the push.)
  func testSealingRacesCollectingWithoutUseAfterFree() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let perThread = scaled(20_000)
    runThreads(8) { _ in
      for key in 0..<perThread {
        domain.retire(TrackedValue(key: key, counter: counter))
        domain.collect()
      }
    }
    domain.synchronize()
    XCTAssertEqual(domain.backlog, 0)
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(counter.created.load(ordering: .relaxed), 8 * perThread)
  }
}
