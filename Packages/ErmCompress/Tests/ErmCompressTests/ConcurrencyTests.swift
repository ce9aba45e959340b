import Foundation
import Synchronization
import Testing
@testable import ErmCompress

@Suite struct ConcurrencyTests {
  @Test func threadsCompressingAndReadingAtOnceGetTheirOwnResults() throws {
    let gz = ChunkedGzip(chunkSize: 64 * 1024)
    let inputs = (0..<8).map { TestData.text(200_000 + $0 * 1000, seed: UInt64($0)) }
    let expected = try inputs.map { try storeChunked($0, gz) }
    let failures = Mutex<[String]>([])
    // Eight jobs on the machine's threads share the zlib stream pools.
    DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
      do {
        for _ in 0..<3 {
          let (stored, index) = try storeChunked(inputs[i], gz)
          guard stored == expected[i].stored, index == expected[i].index else {
            failures.withLock { $0.append("job \(i): different stored bytes") }
            return
          }
          guard try readAll(stored, index, gz) == inputs[i] else {
            failures.withLock { $0.append("job \(i): read gave different bytes") }
            return
          }
        }
      } catch {
        failures.withLock { $0.append("job \(i): \(error)") }
      }
    }
    #expect(failures.withLock { $0 } == [])
  }

  @Test func compressInPlaceLeavesBytesPastTheLogicalSizeAlone() throws {
    let data = TestData.text(300_000)
    var buffer = data + [UInt8](repeating: 0x55, count: 4096)
    _ = try buffer.withUnsafeMutableBytes { try ChunkedGzip().compressInPlace($0, logicalSize: data.count) }
    #expect(buffer[data.count...].allSatisfy { $0 == 0x55 })
  }
}

@Suite struct IndependentChunkTests {
  @Test func halvesCompressedSeparatelyConcatenateToTheWholeFile() throws {
    // What parallel compression will do: split at a chunk boundary, compress the parts
    // anywhere, concatenate and shift the second part's offsets. No format change needed.
    let chunk = 64 * 1024
    let gz = ChunkedGzip(chunkSize: chunk)
    let data = TestData.text(3 * chunk) + TestData.random(chunk) + TestData.text(2 * chunk + 5, seed: 6)
    let whole = try storeChunked(data, gz)
    let first = try storeChunked(Array(data[..<(3 * chunk)]), gz)
    let second = try storeChunked(Array(data[(3 * chunk)...]), gz)
    let shifted = second.index.entries.map {
      ChunkEntry(storedOffset: $0.storedOffset + first.stored.count, storedLength: $0.storedLength, isRaw: $0.isRaw,
                 rawCRC32: $0.rawCRC32)
    }
    let joined = ChunkIndex(chunkSize: chunk, logicalSize: data.count, entries: first.index.entries + shifted,
                            version: ChunkIndex.currentVersion)
    #expect(joined == whole.index)
    expectSameBytes(first.stored + second.stored, whole.stored)
  }
}
