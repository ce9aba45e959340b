import ArenaBPF
import Foundation
import Testing

/// ≥ 1M values through each structure on a plain shared mapping, with a small capacity
/// so producers and consumers keep running into full and empty.
@Suite("Stress: every value delivered exactly once", .serialized)
struct StructureStressTests {
  static let totalValues = 1 << 20
  static let capacity: UInt32 = 1024

  func makeStructure(_ kind: ArenaStructureKind) throws -> (SharedMapping, ArenaStructure) {
    let bytes = 4096 + ArenaStructure.requiredBytes(kind: kind, capacity: Self.capacity)
    let mapping = try SharedMapping(byteCount: bytes)
    let structure = try ArenaStructure.create(
      kind, capacity: Self.capacity, base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
    return (mapping, structure)
  }

  func run(_ kind: ArenaStructureKind, producers: Int, consumers: Int) throws -> [Received] {
    let (mapping, structure) = try makeStructure(kind)
    let perProducer = Self.totalValues / producers
    let total = perProducer * producers
    let taken = SharedCounter()
    let received = (0..<consumers).map { _ in Received() }
    var bodies: [@Sendable () -> Void] = []
    for p in 0..<producers {
      bodies.append { produce(structure, producer: p, count: perProducer) }
    }
    for c in 0..<consumers {
      let sink = received[c]
      bodies.append { consume(structure, into: sink, taken: taken, total: total) }
    }
    runThreads(bodies)
    #expect(try structure.verify() == 0)
    withExtendedLifetime(mapping) {}
    return received
  }

  @Test func spscDeliversOneMillionInOrder() throws {
    let received = try run(.spsc, producers: 1, consumers: 1)
    #expect(exactlyOnceProblem(received, producers: 1, perProducer: Self.totalValues) == nil)
    #expect(fifoProblem(received, producers: 1) == nil)
  }

  @Test func mpmcDeliversOneMillionExactlyOnceWithPerProducerFIFO() throws {
    let received = try run(.mpmc, producers: 2, consumers: 2)
    #expect(exactlyOnceProblem(received, producers: 2, perProducer: Self.totalValues / 2) == nil)
    #expect(fifoProblem(received, producers: 2) == nil)
  }

  @Test func msqueueDeliversOneMillionExactlyOnceWithPerProducerFIFO() throws {
    let received = try run(.msqueue, producers: 2, consumers: 2)
    #expect(exactlyOnceProblem(received, producers: 2, perProducer: Self.totalValues / 2) == nil)
    #expect(fifoProblem(received, producers: 2) == nil)
  }

  @Test func treiberDeliversOneMillionExactlyOnce() throws {
    let received = try run(.treiber, producers: 2, consumers: 2)
    #expect(exactlyOnceProblem(received, producers: 2, perProducer: Self.totalValues / 2) == nil)
  }

  @Test func uringCompletesOneMillionSubmissionsInOrder() throws {
    let (mapping, ring) = try makeStructure(.uring)
    let total = Self.totalValues
    let reaped = Received()
    let results = Received()
    runThreads([
      { produce(ring, producer: 0, count: total) },
      {
        // The server: every submission answered with res = user_data + 1.
        var served = 0
        while served < total {
          guard let sqe = try! ring.take() else {
            sched_yield()
            continue
          }
          try! ring.complete(userData: sqe.userData, result: Int64(bitPattern: sqe.userData &+ 1))
          served += 1
        }
      },
      {
        while reaped.values.count < total {
          guard let cqe = try! ring.reap() else {
            sched_yield()
            continue
          }
          reaped.values.append(cqe.userData)
          results.values.append(UInt64(bitPattern: cqe.result))
        }
      },
    ])
    #expect(exactlyOnceProblem([reaped], producers: 1, perProducer: total) == nil)
    #expect(fifoProblem([reaped], producers: 1) == nil)
    #expect(zip(reaped.values, results.values).allSatisfy { $0 &+ 1 == $1 })
    #expect(try ring.verify() == 0)
    withExtendedLifetime(mapping) {}
  }

  @Test func hashsetAdmitsEachKeyOnceAndRemovesItOnce() throws {
    let keys = Self.totalValues
    let bytes = 4096 + ArenaStructure.requiredBytes(kind: .hashset, capacity: UInt32(keys * 2))
    let mapping = try SharedMapping(byteCount: bytes)
    let set = try ArenaStructure.create(
      .hashset, capacity: UInt32(keys * 2), base: mapping.baseAddress, offset: 4096, limit: mapping.byteCount)
    let inserted = [SharedCounter(), SharedCounter()]
    let removed = [SharedCounter(), SharedCounter()]
    // Two threads race to insert the same keys, in opposite orders.
    runThreads(
      (0..<2).map { t in
        {
          var wins = 0
          for i in 0..<keys {
            let key = UInt64(t == 0 ? i + 1 : keys - i)
            do {
              try set.push(key)
              wins += 1
            } catch ArenaError.exists {
            } catch { fatalError("insert failed: \(error)") }
          }
          inserted[t].value.store(wins, ordering: .relaxed)
        }
      })
    #expect(inserted[0].value.load(ordering: .relaxed) + inserted[1].value.load(ordering: .relaxed) == keys)
    #expect(try set.verify() == UInt64(keys))
    #expect(set.contains(1) && set.contains(UInt64(keys)) && !set.contains(UInt64(keys + 1)))
    runThreads(
      (0..<2).map { t in
        {
          var wins = 0
          for i in 0..<keys where try! set.remove(UInt64(t == 0 ? i + 1 : keys - i)) {
            wins += 1
          }
          removed[t].value.store(wins, ordering: .relaxed)
        }
      })
    #expect(removed[0].value.load(ordering: .relaxed) + removed[1].value.load(ordering: .relaxed) == keys)
    #expect(try set.verify() == 0)
  }
}
