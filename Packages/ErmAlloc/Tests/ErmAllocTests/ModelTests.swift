import Glibc
import Testing
@testable import ErmAlloc

/// Random resize/write/adopt sequences checked against plain `[UInt8]` models: catches any
/// break of the "new bytes read as zero" invariant across shrink/grow/trim combinations.
@Suite struct ModelTests {
  @Test(arguments: [1, 2, 3] as [UInt64])
  func randomBufferOperationsMatchAByteArrayModel(seed: UInt64) throws {
    var random = SplitMix64(state: seed)
    let allocator = PageAllocator()
    var buffers: [ExtentBuffer] = []
    var models: [[UInt8]] = []
    var blobs: [(Blob, [UInt8])] = []
    for _ in 0..<16 {
      buffers.append(try ExtentBuffer(allocator: allocator))
      models.append([])
    }
    for step in 0..<3000 {
      let i = Int.random(in: 0..<buffers.count, using: &random)
      switch Int.random(in: 0..<10, using: &random) {
      case 0..<4:  // resize, sometimes populating
        let size = Int.random(in: 0...(12 * page + 17), using: &random)
        try buffers[i].resize(to: size, populating: Bool.random(using: &random))
        if size < models[i].count { models[i].removeLast(models[i].count - size) }
        else { models[i] += [UInt8](repeating: 0, count: size - models[i].count) }
      case 4..<8 where !models[i].isEmpty:  // write a random range
        let start = Int.random(in: 0..<models[i].count, using: &random)
        let end = Int.random(in: start...min(models[i].count, start + 3 * page), using: &random)
        let value = UInt8(truncatingIfNeeded: step)
        buffers[i].withUnsafeMutableBytes { bytes in
          UnsafeMutableRawBufferPointer(rebasing: bytes[start..<end])
            .initializeMemory(as: UInt8.self, repeating: value)
        }
        models[i].replaceSubrange(start..<end, with: [UInt8](repeating: value, count: end - start))
      case 8:
        buffers[i].shrinkToFit()
      case 9 where !models[i].isEmpty:  // compress-on-close shape: adopt a prefix
        let count = Int.random(in: 0...models[i].count, using: &random)
        let blob = try allocator.makeBlob(adopting: buffers[i], count: count)
        blobs.append((blob, Array(models[i][..<count])))
        models[i] = []
        if blobs.count > 8 { blobs.removeFirst() }
      default:
        break
      }
      if step % 100 == 0 || step == 2999 {
        for (buffer, model) in zip(buffers, models) {
          buffer.withUnsafeBytes { #expect(firstDifference($0, model) == nil, "seed \(seed) step \(step)") }
        }
        for (blob, model) in blobs {
          blob.withUnsafeBytes { #expect(firstDifference($0, model) == nil, "seed \(seed) step \(step)") }
        }
        let live = models.reduce(0) { $0 + $1.count } + blobs.reduce(0) { $0 + $1.1.count }
        #expect(allocator.statistics.bytesLive == live)
        let mapped = buffers.filter { $0.capacity > 0 }.count
          + blobs.filter { if case .mapping = $0.0.placement { true } else { false } }.count
        #expect(allocator.statistics.regions >= mapped)
      }
    }
    buffers.removeAll()
    blobs.removeAll()
    #expect(allocator.statistics == AllocatorStatistics())
  }
}

/// Index of the first byte that differs from the model (the count when only lengths
/// differ), or nil when equal; small enough to print when a check fails.
private func firstDifference(_ bytes: UnsafeRawBufferPointer, _ model: [UInt8]) -> Int? {
  guard bytes.count == model.count else { return min(bytes.count, model.count) }
  guard let base = bytes.baseAddress else { return nil }
  if model.withUnsafeBytes({ memcmp(base, $0.baseAddress!, model.count) == 0 }) { return nil }
  return (0..<model.count).first { bytes[$0] != model[$0] }
}
