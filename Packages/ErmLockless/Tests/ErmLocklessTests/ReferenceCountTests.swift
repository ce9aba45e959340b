import Synchronization
import XCTest

@testable import ErmLockless

final class SharedObject: @unchecked Sendable {
  let references: AtomicReferenceCount
  let frees = Atomic<Int>(0)
  /// Set when the last reference went; a successful retain after it is a resurrection.
  let dead = Atomic<Bool>(false)
  init(references: Int) { self.references = AtomicReferenceCount(references) }
}

final class ReferenceCountTests: XCTestCase {
  func testReleaseSaysWhichWasLast() {
    let count = AtomicReferenceCount(2)
    count.retain()
    XCTAssertEqual(count.current, 3)
    XCTAssertFalse(count.release())
    XCTAssertFalse(count.release())
    XCTAssertTrue(count.release())
    XCTAssertEqual(count.current, 0)
  }

  func testRetainIfNotZeroNeverRevives() {
    let count = AtomicReferenceCount(1)
    XCTAssertTrue(count.retainIfNotZero())
    XCTAssertFalse(count.release())
    XCTAssertTrue(count.release())
    XCTAssertFalse(count.retainIfNotZero())
    XCTAssertEqual(count.current, 0)
  }

  /// Shared objects released concurrently by every holder are freed exactly once.
  func testConcurrentReleasesFreeEachObjectExactlyOnce() {
    let threads = 4
    let objects = (0..<scaled(20_000)).map { _ in SharedObject(references: threads) }
    runThreads(threads) { thread in
      // Each thread walks the objects in its own order.
      let order = thread % 2 == 0 ? Array(objects.indices) : objects.indices.reversed()
      for index in order where objects[index].references.release() {
        objects[index].frees.wrappingAdd(1, ordering: .relaxed)
      }
    }
    XCTAssertTrue(objects.allSatisfy { $0.frees.load(ordering: .relaxed) == 1 })
  }

  /// Lookups take references with retainIfNotZero while the owner drops the last one:
  /// each object is freed exactly once and no retain succeeds after the free.
  func testRetainIfNotZeroRacingTheLastReleaseNeverResurrects() {
    let objects = (0..<scaled(20_000)).map { _ in SharedObject(references: 1) }
    let resurrections = FailureCount()
    runThreads(4) { thread in
      for object in objects {
        if thread == 0 {
          if object.references.release() {
            object.dead.store(true, ordering: .releasing)
            object.frees.wrappingAdd(1, ordering: .relaxed)
          }
        } else if object.references.retainIfNotZero() {
          if object.dead.load(ordering: .acquiring) { resurrections.record() }
          if object.references.release() {
            object.dead.store(true, ordering: .releasing)
            object.frees.wrappingAdd(1, ordering: .relaxed)
          }
        }
      }
    }
    XCTAssertEqual(resurrections.value, 0)
    XCTAssertTrue(objects.allSatisfy { $0.frees.load(ordering: .relaxed) == 1 })
    XCTAssertTrue(objects.allSatisfy { !$0.references.retainIfNotZero() })
  }
}
