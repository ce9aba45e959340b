import Synchronization
import XCTest

@testable import ErmLockless

final class HashMapRaceTests: XCTestCase {
  /// Each thread inserts a key of its own, looks it up and removes it, over and over, on
  /// one small map (unique keys: tombstones force a copy every few dozen operations, and
  /// with more threads than cores copiers are preempted mid-copy). Every remove finds its
  /// own value, no removed key comes back, and each slot of a copied table is counted
  /// once. A late copier of a slot used to follow the key into a newer table after the
  /// key had been copied, removed and dropped by a second copy there, and copy it again:
  /// the removed key came back and the table's copy count passed its capacity (a
  /// precondition failure in `recordCopied`).
  func testUniqueKeyChurnThroughNestedCopiesNeverRevivesAKey() {
    let domain = EpochDomain()
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: domain)
    let counter = InstanceCounter()
    let failures = FailureCount()
    let cycles = scaled(60_000)
    runThreads(12) { thread in
      for cycle in 0..<cycles {
        let key = thread << 32 | cycle
        let value = TrackedValue(key: key, counter: counter)
        if map.insertIfAbsent(value, forKey: key) != nil { failures.record() }
        if map.get(key) !== value { failures.record() }
        if !map.remove(key, ifIdenticalTo: value) { failures.record() }
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(map.count, 0)
    XCTAssertEqual(map.snapshot().count, 0, "a removed key came back")
    XCTAssertGreaterThan(map.statistics.completedCopies, 0)
  }

  /// Many threads insert and remove the same few keys while others look them up: a
  /// lookup returns nil or an intact value of that key, never a freed or torn one.
  func testFewKeysManyThreadsLookupsSeeOnlyIntactValues() {
    let domain = EpochDomain()
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: domain)
    let counter = InstanceCounter()
    let failures = FailureCount()
    let hits = Atomic<Int>(0)
    let rounds = scaled(40_000)
    runThreads(6) { thread in
      var random = SplitMix(seed: UInt64(thread) &* 7919)
      for round in 0..<rounds {
        let key = Int(random.next() % 4)
        switch thread % 3 {
        case 0:
          map.insertIfAbsent(TrackedValue(key: key, serial: round, counter: counter), forKey: key)
        case 1:
          if let removed = map.remove(key), removed.key != key || !removed.isSound { failures.record() }
        default:
          if let value = map.get(key) {
            if value.key != key || !value.isSound { failures.record() }
            hits.wrappingAdd(1, ordering: .relaxed)
          }
          let sound = map.withValue(forKey: key) { $0.map { $0.key == key && $0.isSound } ?? true }
          if !sound { failures.record() }
        }
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertGreaterThan(hits.load(ordering: .relaxed), 0)
    XCTAssertEqual(map.count, map.snapshot().count)
  }

  /// Threads race to insert the same keys: exactly one insert per key wins and every
  /// thread then sees the winner's value.
  func testInsertIfAbsentHasExactlyOneWinnerPerKey() {
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: EpochDomain())
    let counter = InstanceCounter()
    let keys = scaled(5_000)
    let wins = Atomic<Int>(0)
    let failures = FailureCount()
    runThreads(4) { thread in
      for key in 0..<keys {
        let mine = TrackedValue(key: key, serial: thread, counter: counter)
        if let existing = map.insertIfAbsent(mine, forKey: key) {
          if existing.key != key { failures.record() }
        } else {
          wins.wrappingAdd(1, ordering: .relaxed)
        }
        if map.get(key)?.key != key { failures.record() }
      }
    }
    XCTAssertEqual(wins.load(ordering: .relaxed), keys)
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(map.count, keys)
  }

  /// Each inserted value is removed exactly once by compare-and-remove, however many
  /// threads try.
  func testCompareAndRemoveSucceedsOncePerValue() {
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: EpochDomain())
    let counter = InstanceCounter()
    let rounds = scaled(5_000)
    let inserted = Atomic<Int>(0)
    let removed = Atomic<Int>(0)
    runThreads(4) { thread in
      for round in 0..<rounds {
        let key = round % 8
        if thread == 0 {
          if map.insertIfAbsent(TrackedValue(key: key, serial: round, counter: counter), forKey: key) == nil {
            inserted.wrappingAdd(1, ordering: .relaxed)
          }
        } else if let seen = map.get(key), map.remove(key, ifIdenticalTo: seen) {
          removed.wrappingAdd(1, ordering: .relaxed)
        }
      }
    }
    XCTAssertEqual(inserted.load(ordering: .relaxed), removed.load(ordering: .relaxed) + map.count)
  }

  /// Threads own disjoint keys and update them through every operation while the table
  /// grows, is compacted and copied: at the end, the map equals each thread's model.
  func testDisjointWritersMatchTheirModelsThroughCopies() {
    let domain = EpochDomain()
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: domain)
    let counter = InstanceCounter()
    let failures = FailureCount()
    let rounds = scaled(20_000)
    let threads = 4
    let finalKeys = Atomic<Int>(0)
    runThreads(threads) { thread in
      var random = SplitMix(seed: UInt64(thread) + 1)
      var model: [Int: Int] = [:]  // key -> serial
      for round in 0..<rounds {
        let key = thread + threads * Int(random.next() % 512)
        switch random.next() % 6 {
        case 0, 1:
          let inserted = map.insertIfAbsent(TrackedValue(key: key, serial: round, counter: counter), forKey: key) == nil
          if inserted != (model[key] == nil) { failures.record() }
          if inserted { model[key] = round }
        case 2:
          let previous = map.replace(key, with: TrackedValue(key: key, serial: round, counter: counter))
          if previous?.serial != model[key] { failures.record() }
          if previous != nil { model[key] = round }
        case 3:
          if map.remove(key)?.serial != model[key] { failures.record() }
          model[key] = nil
        case 4:
          if map.get(key)?.serial != model[key] { failures.record() }
        default:
          if thread == 0 && round % 1000 == 0 { map.compact() }
          if map.get(key)?.serial != model[key] { failures.record() }
        }
      }
      for (key, serial) in model where map.get(key)?.serial != serial { failures.record() }
      finalKeys.wrappingAdd(model.count, ordering: .relaxed)
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(map.count, finalKeys.load(ordering: .relaxed))
    XCTAssertEqual(map.snapshot().count, finalKeys.load(ordering: .relaxed))
  }

  /// One thread copies the table over and over while owners update their own keys and
  /// read them back: a copy never overwrites a newer value nor brings back a removed one.
  func testCopiesNeverOverwriteNewerValuesNorReviveRemovedOnes() {
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: EpochDomain())
    let counter = InstanceCounter()
    let failures = FailureCount()
    let done = Atomic<Int>(0)
    let rounds = scaled(30_000)
    runThreads(4) { thread in
      if thread == 0 {
        // At least 20 copies even if the owners finish first (a loaded machine).
        var copies = 0
        repeat {
          map.compact()
          copies += 1
        } while done.load(ordering: .acquiring) < 3 || copies < 20
        return
      }
      var latest: [Int: Int] = [:]
      for round in 0..<rounds {
        let key = thread * 100 + round % 4
        if round % 5 == 4 {
          map.remove(key)
          latest[key] = nil
        } else {
          map.insertOrReplace(TrackedValue(key: key, serial: round, counter: counter), forKey: key)
          latest[key] = round
        }
        if map.get(key)?.serial != latest[key] { failures.record() }
      }
      done.wrappingAdd(1, ordering: .releasing)
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertGreaterThan(map.statistics.completedCopies, 10)
  }

  /// A snapshot taken while other threads churn other keys and copy the table visits each
  /// key that stays present exactly once (the weak consistency `forEach` documents).
  func testSnapshotDuringCopiesVisitsEveryStableKeyOnce() {
    let map = LockFreeHashMap<Int, TrackedValue>(minimumCapacity: 8, domain: EpochDomain())
    let counter = InstanceCounter()
    let stable = 200
    for key in 0..<stable { map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key) }
    let failures = FailureCount()
    let done = Atomic<Int>(0)
    let rounds = scaled(20_000)
    runThreads(4) { thread in
      if thread < 2 {
        for round in 0..<rounds {
          let key = 1_000_000 * (thread + 1) + round
          map.insertIfAbsent(TrackedValue(key: key, counter: counter), forKey: key)
          map.remove(key)
          if round % 2_000 == 0 { map.compact() }
        }
        done.wrappingAdd(1, ordering: .releasing)
      } else {
        repeat {
          var seen = [Int](repeating: 0, count: stable)
          map.forEach { key, value in
            if value.key != key || !value.isSound { failures.record() }
            if key < stable { seen[key] += 1 }
          }
          if seen.contains(where: { $0 != 1 }) { failures.record() }
        } while done.load(ordering: .acquiring) < 2
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertEqual(map.count, stable)
  }
}

