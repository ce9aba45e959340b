import Synchronization
import XCTest

@testable import ErmLockless

final class HashMapTests: XCTestCase {
  private func makeMap(_ domain: EpochDomain = EpochDomain(),
                       hash: @escaping @Sendable (Int) -> Int = { $0.hashValue }) -> LockFreeHashMap<Int, TrackedValue> {
    LockFreeHashMap(minimumCapacity: 8, domain: domain, hash: hash)
  }

  /// A map that held many keys and now holds few gives its table back: after removing
  /// all but 10 of 20,000 keys (each removal followed by `shrinkIfSparse`, as ErmCore's
  /// removers do) the table is back to at most 1,024 slots, every remaining key is found,
  /// and the old tables are freed after a grace period.
  func testShrinkIfSparseGivesTheTableBack() {
    let domain = EpochDomain()
    let map = makeMap(domain)
    let counter = InstanceCounter()
    for key in 0..<20_000 { XCTAssertNil(map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)) }
    let grown = map.capacity
    XCTAssertGreaterThanOrEqual(grown, 32_768)
    map.shrinkIfSparse()
    XCTAssertEqual(map.capacity, grown, "a full map must not shrink")
    for key in 10..<20_000 {
      XCTAssertNotNil(map.remove(key))
      map.shrinkIfSparse()
    }
    XCTAssertLessThanOrEqual(map.capacity, 1024)
    XCTAssertEqual(map.count, 10)
    for key in 0..<10 { XCTAssertEqual(map.get(key)?.key, key) }
    domain.synchronize()
    XCTAssertEqual(domain.backlog, 0)
    XCTAssertEqual(counter.live, 10)
  }

  func testGetAfterInsert() {
    let map = makeMap()
    let counter = InstanceCounter()
    XCTAssertNil(map.get(1))
    let value = TrackedValue(key: 1, counter: counter)
    XCTAssertNil(map.insertIfAbsent(value, forKey: 1))
    XCTAssertTrue(map.get(1) === value)
    XCTAssertEqual(map.count, 1)
  }

  func testInsertIfAbsentKeepsTheFirstValue() {
    let map = makeMap()
    let counter = InstanceCounter()
    let first = TrackedValue(key: 1, counter: counter)
    let second = TrackedValue(key: 1, serial: 1, counter: counter)
    XCTAssertNil(map.insertIfAbsent(first, forKey: 1))
    XCTAssertTrue(map.insertIfAbsent(second, forKey: 1) === first)
    XCTAssertTrue(map.get(1) === first)
    XCTAssertEqual(map.count, 1)
  }

  func testReplaceOnlyChangesAPresentKey() {
    let map = makeMap()
    let counter = InstanceCounter()
    let first = TrackedValue(key: 1, counter: counter)
    let second = TrackedValue(key: 1, serial: 1, counter: counter)
    XCTAssertNil(map.replace(1, with: first))
    XCTAssertNil(map.get(1))
    XCTAssertEqual(map.count, 0)
    map.insertIfAbsent(first, forKey: 1)
    XCTAssertTrue(map.replace(1, with: second) === first)
    XCTAssertTrue(map.get(1) === second)
    XCTAssertEqual(map.count, 1)
  }

  func testCompareAndReplaceNeedsTheSameObject() {
    let map = makeMap()
    let counter = InstanceCounter()
    let first = TrackedValue(key: 1, counter: counter)
    let lookalike = TrackedValue(key: 1, counter: counter)
    let second = TrackedValue(key: 1, serial: 2, counter: counter)
    map.insertIfAbsent(first, forKey: 1)
    XCTAssertFalse(map.replace(1, ifIdenticalTo: lookalike, with: second))
    XCTAssertFalse(map.replace(2, ifIdenticalTo: first, with: second))
    XCTAssertTrue(map.replace(1, ifIdenticalTo: first, with: second))
    XCTAssertTrue(map.get(1) === second)
  }

  func testRemoveReturnsTheValue() {
    let map = makeMap()
    let counter = InstanceCounter()
    let value = TrackedValue(key: 1, counter: counter)
    XCTAssertNil(map.remove(1))
    map.insertIfAbsent(value, forKey: 1)
    XCTAssertTrue(map.remove(1) === value)
    XCTAssertNil(map.get(1))
    XCTAssertNil(map.remove(1))
    XCTAssertEqual(map.count, 0)
  }

  func testCompareAndRemoveNeedsTheSameObject() {
    let map = makeMap()
    let counter = InstanceCounter()
    let value = TrackedValue(key: 1, counter: counter)
    let lookalike = TrackedValue(key: 1, counter: counter)
    map.insertIfAbsent(value, forKey: 1)
    XCTAssertFalse(map.remove(1, ifIdenticalTo: lookalike))
    XCTAssertTrue(map.get(1) === value)
    XCTAssertTrue(map.remove(1, ifIdenticalTo: value))
    XCTAssertFalse(map.remove(1, ifIdenticalTo: value))
    XCTAssertNil(map.get(1))
  }

  func testInsertOrReplace() {
    let map = makeMap()
    let counter = InstanceCounter()
    let first = TrackedValue(key: 1, counter: counter)
    let second = TrackedValue(key: 1, serial: 1, counter: counter)
    XCTAssertNil(map.insertOrReplace(first, forKey: 1))
    XCTAssertTrue(map.insertOrReplace(second, forKey: 1) === first)
    XCTAssertTrue(map.get(1) === second)
    XCTAssertEqual(map.count, 1)
  }

  func testStringKeys() {
    let map = LockFreeHashMap<String, TrackedValue>(domain: EpochDomain())
    let counter = InstanceCounter()
    for index in 0..<500 { map.insertIfAbsent(TrackedValue(key: index, counter: counter), forKey: "file-\(index)") }
    for index in 0..<500 { XCTAssertEqual(map.get("file-\(index)")?.key, index) }
    XCTAssertNil(map.get("file-500"))
  }

  func testGrowsAndKeepsEveryKey() {
    let map = makeMap()
    let counter = InstanceCounter()
    let keys = scaled(20_000)
    for key in 0..<keys { XCTAssertNil(map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)) }
    XCTAssertEqual(map.count, keys)
    for key in 0..<keys { XCTAssertEqual(map.get(key)?.key, key, "key \(key)") }
    let statistics = map.statistics
    XCTAssertGreaterThanOrEqual(statistics.capacity, keys)
    XCTAssertGreaterThan(statistics.completedCopies, 0)
    XCTAssertEqual(statistics.liveKeys, keys)
  }

  func testReinsertingTheSameKeyReusesItsSlot() {
    let map = makeMap()
    let counter = InstanceCounter()
    for round in 0..<1000 {
      map.insertIfAbsent(TrackedValue(key: 5, serial: round, counter: counter), forKey: 5)
      map.remove(5)
    }
    XCTAssertEqual(map.statistics.deadKeys, 1)
    XCTAssertEqual(map.statistics.completedCopies, 0)
  }

  func testSnapshotHasEveryEntry() {
    let map = makeMap()
    let counter = InstanceCounter()
    for key in 0..<300 { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
    for key in stride(from: 0, to: 300, by: 3) { map.remove(key) }
    let snapshot = map.snapshot()
    XCTAssertEqual(snapshot.count, 200)
    XCTAssertEqual(Set(snapshot.map(\.key)), Set((0..<300).filter { $0 % 3 != 0 }))
    for entry in snapshot { XCTAssertEqual(entry.key, entry.value.key) }
  }

  func testWithValueBorrowsWithoutCopying() {
    let map = makeMap()
    let counter = InstanceCounter()
    map.insertIfAbsent(TrackedValue(key: 9, serial: 4, counter: counter), forKey: 9)
    XCTAssertEqual(map.withValue(forKey: 9) { $0?.serial }, 4)
    XCTAssertNil(map.withValue(forKey: 8) { $0?.serial })
  }

  func testValuesAreReleasedAfterRemovalAndWithTheMap() {
    let domain = EpochDomain()
    let counter = InstanceCounter()
    do {
      let map = makeMap(domain)
      for key in 0..<1000 { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
      for key in 0..<500 { map.remove(key) }
      domain.synchronize()
      XCTAssertEqual(counter.live, 500)
    }
    domain.synchronize()
    XCTAssertEqual(counter.live, 0)
    XCTAssertEqual(domain.backlog, 0)
  }
}
