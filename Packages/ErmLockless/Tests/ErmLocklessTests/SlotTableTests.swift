import Synchronization
import SystemPackage
import XCTest

@testable import ErmLockless

/// An object stored in a slot table that remembers where it was installed.
final class SlotObject: @unchecked Sendable {
  let handle: SlotHandle
  let value: TrackedValue
  init(_ handle: SlotHandle, counter: InstanceCounter) {
    self.handle = handle
    value = TrackedValue(key: Int(handle.number), serial: Int(handle.generation), counter: counter)
  }
}

final class SlotTableTests: XCTestCase {
  private func open(_ table: SlotTable<SlotObject>, _ counter: InstanceCounter) throws -> SlotHandle {
    let handle = try table.reserve()
    table.install(SlotObject(handle, counter: counter), at: handle.number)
    return handle
  }

  func testReserveHandsOutTheLowestFreeNumber() throws {
    let table = SlotTable<SlotObject>(capacity: 300, domain: EpochDomain())
    let counter = InstanceCounter()
    for expected in 0..<200 { XCTAssertEqual(try open(table, counter).number, Int32(expected)) }
    XCTAssertNotNil(table.remove(150))
    XCTAssertNotNil(table.remove(3))
    XCTAssertNotNil(table.remove(70))
    XCTAssertEqual(try table.reserve().number, 3)
    XCTAssertEqual(try table.reserve().number, 70)
    XCTAssertEqual(try table.reserve().number, 150)
    XCTAssertEqual(try table.reserve().number, 200)
  }

  func testAReservedNumberIsInvisibleUntilInstalled() throws {
    let table = SlotTable<SlotObject>(capacity: 8, domain: EpochDomain())
    let handle = try table.reserve()
    XCTAssertNil(table.lookup(handle.number))
    XCTAssertNil(table.remove(handle.number))
    XCTAssertEqual(table.count, 1)
    let object = SlotObject(handle, counter: InstanceCounter())
    table.install(object, at: handle.number)
    XCTAssertTrue(table.lookup(handle.number) === object)
    XCTAssertTrue(table.lookup(handle) === object)
  }

  func testCancelGivesTheNumberBack() throws {
    let table = SlotTable<SlotObject>(capacity: 8, domain: EpochDomain())
    let first = try table.reserve()
    table.cancel(first.number)
    XCTAssertEqual(table.count, 0)
    XCTAssertEqual(try table.reserve().number, first.number)
  }

  func testFullTableThrowsEMFILE() throws {
    let table = SlotTable<SlotObject>(capacity: 130, domain: EpochDomain())
    for _ in 0..<130 { _ = try table.reserve() }
    XCTAssertThrowsError(try table.reserve()) { XCTAssertEqual($0 as? Errno, .tooManyOpenFiles) }
    table.cancel(129)
    XCTAssertEqual(try table.reserve().number, 129)
  }

  func testBadNumbersAreJustAbsent() {
    let table = SlotTable<SlotObject>(capacity: 4, domain: EpochDomain())
    for number: Int32 in [-1, 0, 3, 4, .max, .min] {
      XCTAssertNil(table.lookup(number))
      XCTAssertNil(table.remove(number))
      XCTAssertNil(table.handle(for: number))
    }
  }

  func testAStaleHandleNeverReachesTheObjectThatReusesItsNumber() throws {
    let domain = EpochDomain()
    let table = SlotTable<SlotObject>(capacity: 4, domain: domain)
    let counter = InstanceCounter()
    let old = try open(table, counter)
    XCTAssertNotNil(table.remove(old))
    let new = try open(table, counter)
    XCTAssertEqual(new.number, old.number)
    XCTAssertNotEqual(new.generation, old.generation)
    XCTAssertNil(table.lookup(old), "old handle reached the new object")
    XCTAssertNil(table.remove(old), "old handle removed the new object")
    XCTAssertEqual(table.lookup(new)?.handle, new)
    XCTAssertEqual(table.handle(for: new.number), new)
  }

  func testRemovedObjectIsReleasedOnceReadersAreDone() throws {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    do {
      let table = SlotTable<SlotObject>(capacity: 4, domain: domain)
      let handle = try open(table, counter)
      let removed = table.remove(handle.number)
      XCTAssertNotNil(removed)
      XCTAssertEqual(counter.live, 1)
      _ = removed
    }
    domain.synchronize()
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(domain.backlog, 0)
  }

  /// Readers look up numbers while writers close and reopen them: a lookup by number
  /// returns an intact object open under that number; a lookup by handle only the
  /// object of that generation.
  func testLookupsRacingRemoveAndReuseSeeOnlyIntactObjectsOfTheirGeneration() throws {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let table = SlotTable<SlotObject>(capacity: 8, domain: domain)
    let failures = FailureCount()
    let found = Atomic<Int>(0)
    let rounds = scaled(100_000)
    for _ in 0..<4 { _ = try open(table, counter) }
    runThreads(4) { thread in
      var random = SplitMix(seed: UInt64(thread))
      for _ in 0..<rounds {
        let number = Int32(random.next() % 4)
        if thread < 2 {
          // Writer: close a number and reopen the lowest free one.
          if table.remove(number) != nil {
            if let handle = try? table.reserve() {
              table.install(SlotObject(handle, counter: counter), at: handle.number)
            }
          }
        } else if let handle = table.handle(for: number) {
          if let object = table.lookup(handle) {
            if object.handle != handle || !object.value.isSound { failures.record() }
            found.wrappingAdd(1, ordering: .relaxed)
          }
          if let object = table.lookup(number) {
            if object.handle.number != number || !object.value.isSound { failures.record() }
          }
        }
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertGreaterThan(found.load(ordering: .relaxed), 0)
    XCTAssertEqual(table.count, 4)
  }

  func testConcurrentReservesGetDistinctNumbersFillingFromZero() {
    let table = SlotTable<SlotObject>(capacity: 1000, domain: EpochDomain())
    let counter = InstanceCounter()
    let perThread = 200
    let duplicates = FailureCount()
    let seen = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1000)
    for index in 0..<1000 { (seen + index).initialize(to: Atomic(0)) }
    defer { seen.deallocate() }
    let seenBits = UInt(bitPattern: seen)
    runThreads(4) { _ in
      let seen = UnsafeMutablePointer<Atomic<Int>>(bitPattern: seenBits)!
      for _ in 0..<perThread {
        guard let handle = try? table.reserve() else { duplicates.record(); continue }
        if seen[Int(handle.number)].wrappingAdd(1, ordering: .relaxed).oldValue != 0 { duplicates.record() }
        table.install(SlotObject(handle, counter: counter), at: handle.number)
      }
    }
    XCTAssertEqual(duplicates.value, 0)
    XCTAssertEqual(table.count, 800)
    // Nobody freed anything, so the numbers taken are exactly 0..<800.
    for number in 0..<800 { XCTAssertEqual(seen[number].load(ordering: .relaxed), 1, "number \(number)") }
  }

  func testOpenCloseCyclesLeaveNothingBehind() throws {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let table = SlotTable<SlotObject>(capacity: 64, domain: domain)
    let cycles = scaled(5_000)
    runThreads(4) { _ in
      for _ in 0..<cycles {
        guard let handle = try? table.reserve() else { continue }
        table.install(SlotObject(handle, counter: counter), at: handle.number)
        _ = table.lookup(handle.number)
        _ = table.remove(handle.number)
      }
    }
    XCTAssertEqual(table.count, 0)
    domain.synchronize()
    XCTAssertEqual(domain.backlog, 0)
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(counter.created.load(ordering: .relaxed), 4 * cycles)
    XCTAssertEqual(try table.reserve().number, 0)
  }

  /// Threads race to remove the same numbers: each object is handed to exactly one of
  /// them, and freed once.
  func testRacingRemovesHandOutEachObjectOnce() throws {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    let table = SlotTable<SlotObject>(capacity: 16, domain: domain)
    let rounds = scaled(5_000)
    let removed = Atomic<Int>(0)
    let opened = Atomic<Int>(0)
    runThreads(4) { thread in
      for _ in 0..<rounds {
        if thread == 0 {
          if let handle = try? table.reserve() {
            table.install(SlotObject(handle, counter: counter), at: handle.number)
            opened.wrappingAdd(1, ordering: .relaxed)
          }
        } else {
          for number in Int32(0)..<16 where table.remove(number) != nil {
            removed.wrappingAdd(1, ordering: .relaxed)
          }
        }
      }
    }
    XCTAssertEqual(opened.load(ordering: .relaxed), removed.load(ordering: .relaxed) + table.count)
    for number in Int32(0)..<16 { _ = table.remove(number) }
    domain.synchronize()
    XCTAssertEqual(counter.live, 0)
  }
}

