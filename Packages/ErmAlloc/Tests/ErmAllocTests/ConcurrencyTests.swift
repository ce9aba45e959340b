import Dispatch
import Synchronization
import Testing
@testable import ErmAlloc

/// Deterministic per-thread random numbers (SplitMix64), so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

final class Box<T>: @unchecked Sendable {
  var value: T
  init(_ value: T) { self.value = value }
}

@Suite struct ConcurrencyTests {
  @Test func concurrentAllocationAndFreeKeepStatisticsConsistent() throws {
    let allocator = PageAllocator()
    let threads = 8
    // Per thread: its live blobs and buffers, and the live bytes it expects.
    let held = (0..<threads).map { _ in Box<([Blob], [ExtentBuffer], Int)>(([], [], 0)) }
    let corrupt = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      var random = SplitMix64(state: UInt64(t) &+ 42)
      let box = held[t]
      let seed = UInt8(t)
      for _ in 0..<3000 {
        switch Int.random(in: 0..<10, using: &random) {
        case 0..<4:  // small or large blob, stamped with this thread's seed
          let size = Bool.random(using: &random) ? Int.random(in: 1...2000, using: &random)
                                                 : Int.random(in: 1...40_000, using: &random)
          let blob = try! allocator.makeBlob(count: size)
          blob.withUnsafeMutableBytes { stamp($0, seed: seed) }
          box.value.0.append(blob)
          box.value.2 += size
        case 4..<6:
          let buffer = try! ExtentBuffer(allocator: allocator)
          let size = Int.random(in: 0...100_000, using: &random)
          try! buffer.resize(to: size)
          buffer.withUnsafeMutableBytes { stamp($0, seed: seed) }
          box.value.1.append(buffer)
          box.value.2 += size
        case 6..<8 where !box.value.0.isEmpty:
          let blob = box.value.0.remove(at: Int.random(in: 0..<box.value.0.count, using: &random))
          if !blob.withUnsafeBytes({ hasStamp($0, seed: seed) }) { corrupt.add(1, ordering: .relaxed) }
          box.value.2 -= blob.count
        case 8..<10 where !box.value.1.isEmpty:
          let buffer = box.value.1[Int.random(in: 0..<box.value.1.count, using: &random)]
          let old = buffer.count
          let size = Int.random(in: 0...100_000, using: &random)
          try! buffer.resize(to: size)
          buffer.withUnsafeMutableBytes { stamp($0, seed: seed) }
          box.value.2 += size - old
        default:
          break
        }
      }
    }
    #expect(corrupt.load(ordering: .relaxed) == 0)
    let expectedLive = held.reduce(0) { $0 + $1.value.2 }
    #expect(allocator.statistics.bytesLive == expectedLive)

    // Free everything from other threads than the ones that allocated it.
    DispatchQueue.concurrentPerform(iterations: threads) { t in
      let box = held[(t + 1) % threads]
      for blob in box.value.0 where !blob.withUnsafeBytes({ hasStamp($0, seed: UInt8((t + 1) % threads)) }) {
        corrupt.add(1, ordering: .relaxed)
      }
      box.value = ([], [], 0)
    }
    #expect(corrupt.load(ordering: .relaxed) == 0)
    #expect(allocator.statistics == AllocatorStatistics())
  }

  @Test func concurrentSlabChurnOnOneSizeClassNeverHandsOutASlotTwice() {
    let allocator = PageAllocator()
    let corrupt = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: 8) { t in
      var mine: [Blob] = []
      for round in 0..<4000 {
        let blob = try! allocator.makeBlob(count: 200)
        blob.withUnsafeMutableBytes { stamp($0, seed: UInt8(t)) }
        mine.append(blob)
        if round % 3 == 2 {
          for blob in mine.prefix(2) where !blob.withUnsafeBytes({ hasStamp($0, seed: UInt8(t)) }) {
            corrupt.add(1, ordering: .relaxed)
          }
          mine.removeFirst(2)
        }
      }
      for blob in mine where !blob.withUnsafeBytes({ hasStamp($0, seed: UInt8(t)) }) {
        corrupt.add(1, ordering: .relaxed)
      }
    }
    #expect(corrupt.load(ordering: .relaxed) == 0)
    #expect(allocator.statistics == AllocatorStatistics())
  }
}
