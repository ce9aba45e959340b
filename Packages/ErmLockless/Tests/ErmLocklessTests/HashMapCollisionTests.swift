import Synchronization
import XCTest

@testable import ErmLockless

/// Every key hashes to one bucket: the map degrades to a linear scan but stays correct.
final class HashMapCollisionTests: XCTestCase {
  private func collidingMap(_ domain: EpochDomain = EpochDomain()) -> LockFreeHashMap<Int, TrackedValue> {
    LockFreeHashMap(minimumCapacity: 8, domain: domain, hash: { _ in 42 })
  }

  func testEveryKeyInOneBucketIsStillFound() {
    let map = collidingMap()
    let counter = InstanceCounter()
    for key in 0..<300 { XCTAssertNil(map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)) }
    for key in 0..<300 { XCTAssertEqual(map.get(key)?.key, key) }
    for key in stride(from: 0, to: 300, by: 2) { XCTAssertNotNil(map.remove(key)) }
    for key in 0..<300 { XCTAssertEqual(map.get(key)?.key, key % 2 == 0 ? nil : key) }
    XCTAssertEqual(map.count, 150)
  }

  /// Inserting and deleting distinct keys fills the table with dead keys (tombstones):
  /// live keys stay findable all along, and a compaction restores the probe lengths of a
  /// fresh table (all in one bucket: 0, 1, ... live - 1).
  func testTombstoneChurnKeepsLiveKeysAndCompactionRestoresProbeLengths() {
    let map = collidingMap()
    let counter = InstanceCounter()
    let liveKeys = 20
    for key in 0..<liveKeys { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
    XCTAssertEqual(map.statistics.maxProbeLength, liveKeys - 1)
    var sawTombstones = 0
    for key in liveKeys..<(liveKeys + 2000) {
      map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)
      XCTAssertNotNil(map.remove(key))
      sawTombstones = max(sawTombstones, map.statistics.deadKeys)
      if key % 97 == 0 {
        for live in 0..<liveKeys { XCTAssertEqual(map.get(live)?.key, live, "live key \(live) lost") }
      }
    }
    XCTAssertGreaterThan(sawTombstones, 10, "the churn should have left tombstones")
    XCTAssertGreaterThan(map.statistics.completedCopies, 0, "tombstones should have forced copies")
    map.compact()
    let statistics = map.statistics
    XCTAssertEqual(statistics.deadKeys, 0)
    XCTAssertEqual(statistics.liveKeys, liveKeys)
    XCTAssertEqual(statistics.maxProbeLength, liveKeys - 1)
    XCTAssertEqual(statistics.meanProbeLength, Double(liveKeys - 1) / 2)
    for key in 0..<liveKeys { XCTAssertEqual(map.get(key)?.key, key) }
  }

  /// The same with an ordinary hash: without an explicit compaction, the automatic
  /// copies keep dead keys and probe lengths bounded.
  func testAutomaticCopiesBoundTombstonesUnderChurn() {
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 64, domain: EpochDomain())
    let counter = InstanceCounter()
    for key in 0..<32 { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
    var worstDead = 0
    var worstProbe = 0
    for key in 1000..<(1000 + scaled(50_000)) {
      map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)
      map.remove(key)
      let statistics = map.statistics
      worstDead = max(worstDead, statistics.deadKeys)
      worstProbe = max(worstProbe, statistics.maxProbeLength)
    }
    let statistics = map.statistics
    XCTAssertGreaterThan(statistics.completedCopies, 0)
    XCTAssertLessThanOrEqual(worstDead, statistics.capacity, "dead keys exceed the table")
    XCTAssertLessThan(worstProbe, 10 + statistics.capacity / 4, "probe length beyond the reprobe limit")
    for key in 0..<32 { XCTAssertEqual(map.get(key)?.key, key) }
    XCTAssertEqual(map.count, 32)
  }

  /// Readers look up keys that are never removed while other threads churn colliding
  /// keys (forcing table copies) and compact: no lookup may miss.
  func testStableKeysAreNeverMissedDuringConcurrentCopies() {
    let domain = EpochDomain()
    let map = collidingMap(domain)
    let counter = InstanceCounter()
    let stable = 16
    for key in 0..<stable { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
    let misses = FailureCount()
    let rounds = scaled(4_000)
    runThreads(4) { thread in
      var random = SplitMix(seed: UInt64(thread) + 77)
      for round in 0..<rounds {
        switch thread {
        case 0, 1:
          let key = 1_000 + thread * 1_000_000 + round
          map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)
          if map.remove(key) == nil { misses.record() }
        case 2:
          if round % 200 == 0 { map.compact() }
          let key = Int(random.next() % UInt64(stable))
          if map.get(key)?.key != key { misses.record() }
        default:
          let key = Int(random.next() % UInt64(stable))
          guard let value = map.get(key), value.key == key, value.isSound else { misses.record(); continue }
        }
      }
    }
    XCTAssertEqual(misses.value, 0)
    XCTAssertEqual(map.count, stable)
    XCTAssertGreaterThan(map.statistics.completedCopies, 0)
  }
}
