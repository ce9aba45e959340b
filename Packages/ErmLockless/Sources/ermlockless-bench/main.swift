// Lock-free structures vs a Mutex baseline, same run, same workload, 1/2/4/8 threads.
// Usage: ermlockless-bench [seconds per point, default 1] [thread counts, default 1,2,4,8]
import ErmLockless
import Foundation
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

let secondsPerPoint = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 1 : 1
let threadCounts = CommandLine.arguments.count > 2
  ? CommandLine.arguments[2].split(separator: ",").compactMap { Int($0) } : [1, 2, 4, 8]
/// Optional third argument: run only these sections (e.g. "1,3"), for profiling.
let sections = CommandLine.arguments.count > 3
  ? Set(CommandLine.arguments[3].split(separator: ",").compactMap { Int($0) }) : [1, 2, 3, 4]

final class Node: Sendable {
  let id: Int
  init(_ id: Int) { self.id = id }
}

struct SplitMix {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// Runs `body(thread, stop)` on `threads` pthreads for `secondsPerPoint`; each returns its
/// operation count. While they run, `sample` is called every millisecond on this thread.
/// Returns operations per second.
func measure(threads: Int, sample: () -> Void = {},
             _ body: @escaping @Sendable (Int, borrowing Atomic<Bool>) -> Int) -> Double {
  final class Run: @unchecked Sendable {
    let stop = Atomic<Bool>(false)
    let started = Atomic<Int>(0)
    let operations = Atomic<Int>(0)
    let body: @Sendable (Int, borrowing Atomic<Bool>) -> Int
    init(_ body: @escaping @Sendable (Int, borrowing Atomic<Bool>) -> Int) { self.body = body }
  }
  final class Start: @unchecked Sendable {
    let run: Run
    let index: Int
    init(_ run: Run, _ index: Int) { self.run = run; self.index = index }
  }
  let run = Run(body)
  var handles: [pthread_t] = []
  for index in 0..<threads {
    var handle = pthread_t()
    pthread_create(&handle, nil, { raw in
      let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
      start.run.started.wrappingAdd(1, ordering: .acquiringAndReleasing)
      let count = start.run.body(start.index, start.run.stop)
      start.run.operations.wrappingAdd(count, ordering: .relaxed)
      return nil
    }, Unmanaged.passRetained(Start(run, index)).toOpaque())
    handles.append(handle)
  }
  while run.started.load(ordering: .acquiring) < threads { sched_yield() }
  let clock = ContinuousClock()
  let begin = clock.now
  let end = begin + .milliseconds(Int(secondsPerPoint * 1000))
  while clock.now < end {
    sample()
    usleep(1000)
  }
  run.stop.store(true, ordering: .releasing)
  for handle in handles { pthread_join(handle, nil) }
  let elapsed = clock.now - begin
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
  return Double(run.operations.load(ordering: .relaxed)) / seconds
}

// MARK: Map workloads

protocol BenchMap: Sendable {
  func get(_ key: Int) -> Node?
  func insert(_ node: Node, _ key: Int)
  func remove(_ key: Int)
}

extension LockFreeHashMap: BenchMap where Key == Int, Value == Node {
  func insert(_ node: Node, _ key: Int) { insertIfAbsent(node, forKey: key) }
  func remove(_ key: Int) { _ = self.remove(key) as Node? }
}

final class MutexDictionary: BenchMap {
  let dictionary = Mutex<[Int: Node]>([:])
  func get(_ key: Int) -> Node? { dictionary.withLock { $0[key] } }
  func insert(_ node: Node, _ key: Int) {
    dictionary.withLock { if $0[key] == nil { $0[key] = node } }
  }
  func remove(_ key: Int) { _ = dictionary.withLock { $0.removeValue(forKey: key) } }
}

/// Lookup-heavy: 98% get, 1% insert, 1% remove over 20,000 keys, half present.
func lookupHeavy(_ map: some BenchMap, threads: Int) -> Double {
  for key in stride(from: 0, to: 20_000, by: 2) { map.insert(Node(key), key) }
  return measure(threads: threads) { thread, stop in
    var random = SplitMix(state: UInt64(thread + 1) &* 0x1234_5678)
    var operations = 0
    var found = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<64 {
        let draw = random.next()
        let key = Int(draw % 20_000)
        switch (draw >> 32) % 100 {
        case 0: map.insert(Node(key), key)
        case 1: map.remove(key)
        default: if map.get(key) != nil { found += 1 }
        }
      }
      operations += 64
    }
    return operations + (found < 0 ? 1 : 0)
  }
}

/// Churn: 50% insert, 50% remove of random keys among 4,096 (tombstones, table copies).
func churn(_ map: some BenchMap, threads: Int, sample: () -> Void = {}) -> Double {
  measure(threads: threads, sample: sample) { thread, stop in
    var random = SplitMix(state: UInt64(thread + 7) &* 0x9876_5431)
    var operations = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<64 {
        let draw = random.next()
        let key = Int(draw % 4_096)
        if draw >> 63 == 0 { map.insert(Node(key), key) } else { map.remove(key) }
      }
      operations += 64
    }
    return operations
  }
}

// MARK: Descriptor-table workloads

protocol BenchTable: Sendable {
  func open(_ node: Node) -> Int32?
  func lookup(_ number: Int32) -> Node?
  func close(_ number: Int32)
}

extension SlotTable: BenchTable where Object == Node {
  func open(_ node: Node) -> Int32? {
    guard let handle = try? reserve() else { return nil }
    install(node, at: handle.number)
    return handle.number
  }
  func close(_ number: Int32) { _ = remove(number) }
}

/// ErmCore's locked descriptor table, reduced: a Mutex around an array of slots and a
/// lowest-maybe-free hint.
final class MutexSlotArray: BenchTable {
  struct Slots {
    var slots: [Node?] = []
    var lowestMaybeFree = 0
  }
  let table = Mutex(Slots())
  let limit: Int
  init(limit: Int) { self.limit = limit }

  func open(_ node: Node) -> Int32? {
    table.withLock { table -> Int32? in
      var number = table.lowestMaybeFree
      while number < table.slots.count && table.slots[number] != nil { number += 1 }
      guard number < limit else { return nil }
      if number == table.slots.count { table.slots.append(node) } else { table.slots[number] = node }
      table.lowestMaybeFree = number + 1
      return Int32(number)
    }
  }
  func lookup(_ number: Int32) -> Node? {
    table.withLock { Int(number) < $0.slots.count ? $0.slots[Int(number)] : nil }
  }
  func close(_ number: Int32) {
    table.withLock { table in
      guard Int(number) < table.slots.count, table.slots[Int(number)] != nil else { return }
      table.slots[Int(number)] = nil
      table.lowestMaybeFree = min(table.lowestMaybeFree, Int(number))
    }
  }
}

/// Lookup-heavy: 64 descriptors open; 98% lookup, 2% close + reopen.
func descriptorLookups(_ table: some BenchTable, threads: Int) -> Double {
  for id in 0..<64 { _ = table.open(Node(id)) }
  return measure(threads: threads) { thread, stop in
    var random = SplitMix(state: UInt64(thread + 3) &* 0x5555_1111)
    var operations = 0
    var found = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<64 {
        let draw = random.next()
        let number = Int32(draw % 64)
        if (draw >> 32) % 50 == 0 {
          table.close(number)
          _ = table.open(Node(Int(number)))
        } else if table.lookup(number) != nil {
          found += 1
        }
      }
      operations += 64
    }
    return operations + (found < 0 ? 1 : 0)
  }
}

/// Churn: open, look up, close (each counted as one operation).
func descriptorChurn(_ table: some BenchTable, threads: Int, sample: () -> Void = {}) -> Double {
  measure(threads: threads, sample: sample) { thread, stop in
    var operations = 0
    while !stop.load(ordering: .relaxed) {
      for _ in 0..<64 {
        if let number = table.open(Node(thread)) {
          _ = table.lookup(number)
          table.close(number)
        }
      }
      operations += 64
    }
    return operations
  }
}

// MARK: Report

/// For profiling one side alone: ERMLOCKLESS_BENCH_SIDE=lockfree or mutex (the other side
/// then reports 0).
let side = ProcessInfo.processInfo.environment["ERMLOCKLESS_BENCH_SIDE"] ?? "both"
func timed(_ name: String, _ body: () -> Double) -> Double { side == "both" || side == name ? body() : 0 }

func loadAverage() -> String {
  (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3)
    .joined(separator: " ") ?? "?"
}

func row(_ threads: Int, _ lockFree: Double, _ locked: Double, _ extra: String = "") {
  let line = String(format: "  %2d threads  lock-free %8.2f Mops/s   Mutex %8.2f Mops/s   ratio %5.2fx",
                    threads, lockFree / 1e6, locked / 1e6, lockFree / locked)
  print(line + extra)
}

print("ermlockless-bench: \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) cores online, \(secondsPerPoint) s per point, "
      + "load average \(loadAverage()) at start")
print("ratio = lock-free / Mutex baseline, measured one after the other for each thread count\n")

if sections.contains(1) {
print("1. map, lookup-heavy (98% get, 1% insert, 1% remove; 20,000 Int keys, half present)")
print("   LockFreeHashMap<Int, Node> vs Mutex<[Int: Node]>")
for threads in threadCounts {
  let lockFree = timed("lockfree") { lookupHeavy(LockFreeHashMap<Int, Node>(domain: EpochDomain()), threads: threads) }
  let locked = timed("mutex") { lookupHeavy(MutexDictionary(), threads: threads) }
  row(threads, lockFree, locked)
}

}

if sections.contains(2) {
print("\n2. map, churn (50% insert, 50% remove; 4,096 Int keys)")
for threads in threadCounts {
  let domain = EpochDomain()
  let map = LockFreeHashMap<Int, Node>(domain: domain)
  var highest = 0
  let lockFree = timed("lockfree") { churn(map, threads: threads) { highest = max(highest, domain.backlog) } }
  let locked = timed("mutex") { churn(MutexDictionary(), threads: threads) }
  row(threads, lockFree, locked, "   backlog max \(highest), copies \(map.statistics.completedCopies)")
}

}

if sections.contains(3) {
print("\n3. descriptor table, lookup-heavy (64 open; 98% lookup, 2% close + reopen)")
print("   SlotTable<Node>(capacity: 1024) vs Mutex<[Node?]> (ErmCore's locked table, reduced)")
for threads in threadCounts {
  let lockFree = timed("lockfree") { descriptorLookups(SlotTable<Node>(capacity: 1024, domain: EpochDomain()), threads: threads) }
  let locked = timed("mutex") { descriptorLookups(MutexSlotArray(limit: 1024), threads: threads) }
  row(threads, lockFree, locked)
}

}

if sections.contains(4) {
print("\n4. descriptor table, churn (open + lookup + close = 1 operation)")
for threads in threadCounts {
  let domain = EpochDomain()
  var highest = 0
  let lockFree = timed("lockfree") {
    descriptorChurn(SlotTable<Node>(capacity: 1024, domain: domain), threads: threads) {
      highest = max(highest, domain.backlog)
    }
  }
  let locked = timed("mutex") { descriptorChurn(MutexSlotArray(limit: 1024), threads: threads) }
  row(threads, lockFree, locked, "   backlog max \(highest)")
}
}
print("\nload average \(loadAverage()) at end")
