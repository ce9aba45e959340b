import ArenaBPF
import Foundation
import Synchronization

/// Runs every body on its own OS thread (not a task: producers and consumers spin, and
/// the cooperative pool of a 2-core machine would starve one side) and waits for all.
func runThreads(_ bodies: [@Sendable () -> Void]) {
  let group = DispatchGroup()
  for body in bodies {
    group.enter()
    let thread = Thread {
      body()
      group.leave()
    }
    thread.stackSize = 1 << 20
    thread.start()
  }
  group.wait()
}

final class SharedCounter: Sendable {
  let value = Atomic<Int>(0)
}

/// What one consumer thread received, in order.
final class Received: @unchecked Sendable {
  // @unchecked: written only by its own consumer thread, read after the join.
  var values: [UInt64] = []
}

/// Values carry their producer and per-producer sequence, so order and uniqueness can
/// be checked after the run.
func encode(producer: Int, sequence: Int) -> UInt64 {
  UInt64(producer + 1) << 32 | UInt64(sequence)
}

func decode(_ value: UInt64) -> (producer: Int, sequence: Int) {
  (Int(value >> 32) - 1, Int(value & 0xffff_ffff))
}

/// Pushes `count` values as `producer`, yielding the CPU while the structure is full.
func produce(_ structure: ArenaStructure, producer: Int, count: Int) {
  for sequence in 0..<count {
    let value = encode(producer: producer, sequence: sequence)
    while true {
      do {
        try structure.push(value)
        break
      } catch .full {
        sched_yield()
      } catch {
        fatalError("push failed: \(error)")
      }
    }
  }
}

/// Pops until `taken` reaches `total` across all consumers.
func consume(_ structure: ArenaStructure, into received: Received, taken: SharedCounter, total: Int) {
  while taken.value.load(ordering: .relaxed) < total {
    do {
      if let value = try structure.pop() {
        received.values.append(value)
        taken.value.add(1, ordering: .relaxed)
      } else {
        sched_yield()
      }
    } catch {
      fatalError("pop failed: \(error)")
    }
  }
}

/// Checks every (producer, sequence) arrived exactly once; returns a description of the
/// first problem, or nil.
func exactlyOnceProblem(_ received: [Received], producers: Int, perProducer: Int) -> String? {
  var seen = [[Bool]](repeating: [Bool](repeating: false, count: perProducer), count: producers)
  var total = 0
  for consumer in received {
    for value in consumer.values {
      let (producer, sequence) = decode(value)
      guard producer >= 0, producer < producers, sequence < perProducer else {
        return "foreign value \(value)"
      }
      if seen[producer][sequence] { return "value \(producer):\(sequence) delivered twice" }
      seen[producer][sequence] = true
      total += 1
    }
  }
  return total == producers * perProducer ? nil : "delivered \(total) of \(producers * perProducer)"
}

/// Checks each consumer saw each producer's values in increasing sequence.
func fifoProblem(_ received: [Received], producers: Int) -> String? {
  for (index, consumer) in received.enumerated() {
    var last = [Int](repeating: -1, count: producers)
    for value in consumer.values {
      let (producer, sequence) = decode(value)
      if sequence <= last[producer] {
        return "consumer \(index) saw \(producer):\(sequence) after \(producer):\(last[producer])"
      }
      last[producer] = sequence
    }
  }
  return nil
}

extension FileHandle {
  /// Reads one line (without its newline) byte by byte, so nothing after it is consumed.
  func readLine() -> [UInt8] {
    var line: [UInt8] = []
    while let byte = try? read(upToCount: 1), let first = byte.first, first != UInt8(ascii: "\n") {
      line.append(first)
    }
    return line
  }
}
