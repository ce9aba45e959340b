@testable import ArenaBPF
import CArenaStructures
import Foundation
import Synchronization
import Testing

/// BPF and user space on one structure at the same time: a SEC("syscall") producer run
/// again and again (BPF_PROG_TEST_RUN) on one thread, a Swift consumer popping on
/// another. Every value must arrive exactly once: count, checksum and a seen-bitmap.
extension KernelTests {
  final class LaneBox: @unchecked Sendable {
    // @unchecked: only the producer thread touches the lane until the join.
    let lane: KernelLane
    init(_ lane: KernelLane) { self.lane = lane }
  }

  @Test(arguments: [ArenaStructureKind.spsc, .mpmc, .msqueue, .treiber])
  func kernelProducerAndSwiftConsumerRunConcurrentlyExactlyOnce(_ kind: ArenaStructureKind) throws {
    let total: UInt64 = 300_000
    let capacity: UInt32 = 1024
    let box = LaneBox(try KernelLane(kind: kind, capacity: capacity))
    let structure = box.lane.structure
    box.lane.announceValues(first: 1, count: total)
    let produceRuns = Atomic<Int>(0)
    let failure = Atomic<Int>(0)
    let popped = Atomic<UInt64>(0)
    let poppedWhenProducerFinished = Atomic<UInt64>(0)
    final class Seen: @unchecked Sendable {
      // @unchecked: written by the consumer thread only, read after the join.
      var values: [UInt64] = []
    }
    let seen = Seen()
    runThreads([
      {
        do {
          while try box.lane.produce() > 0 {
            produceRuns.add(1, ordering: .relaxed)
            sched_yield()  // full: let the consumer make room
          }
          poppedWhenProducerFinished.store(popped.load(ordering: .acquiring), ordering: .relaxed)
        } catch {
          failure.store(1, ordering: .relaxed)
        }
      },
      {
        seen.values.reserveCapacity(Int(total))
        while UInt64(seen.values.count) < total && failure.load(ordering: .relaxed) == 0 {
          do {
            if let value = try structure.pop() {
              seen.values.append(value)
              popped.add(1, ordering: .releasing)
            } else { ermfs_arena_cpu_relax() }
          } catch {
            failure.store(2, ordering: .relaxed)
          }
        }
      },
    ])
    #expect(failure.load(ordering: .relaxed) == 0)
    let totals = box.lane.totals
    let expectedSum = total * (total + 1) / 2
    #expect(totals.produced == total)
    #expect(totals.producedChecksum == expectedSum)
    #expect(UInt64(seen.values.count) == total)
    #expect(seen.values.reduce(0, &+) == expectedSum)
    var once = [Bool](repeating: false, count: Int(total) + 1)
    var duplicates = 0
    for value in seen.values where value >= 1 && value <= total {
      if once[Int(value)] { duplicates += 1 }
      once[Int(value)] = true
    }
    // (A store by BPF to an arena page user space never faulted in vanishes, and the
    // consumer reads 0 there: that is what this caught first, in the SPSC ring.)
    let foreign = seen.values.enumerated().filter { $0.element < 1 || $0.element > total }.prefix(5)
    let missing = (1...total).lazy.filter { !once[Int($0)] }.prefix(5)
    #expect(duplicates == 0 && foreign.isEmpty && missing.isEmpty, "foreign (index, value) \(Array(foreign)), missing \(Array(missing))")
    if kind.isFIFO { #expect(zip(seen.values, seen.values.dropFirst()).allSatisfy { $0 < $1 }) }
    #expect(try structure.verify() == 0)
    // Both sides really overlapped. The structure holds at most `capacity` values, so the
    // producer can only have pushed its last value after the consumer popped all but
    // `capacity` of them (one more may be popped and not yet counted). How many runs that
    // took depends on the scheduler (a consumer that keeps up lets one run push tens of
    // thousands), so the run count is printed, not checked.
    let poppedBefore = poppedWhenProducerFinished.load(ordering: .relaxed)
    print("\(kind): kernel producer ran \(produceRuns.load(ordering: .relaxed) + 1) times for \(total) values; \(poppedBefore) popped before it finished")
    #expect(poppedBefore + UInt64(capacity) + 1 >= total)
  }
}
