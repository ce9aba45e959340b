import Testing
@testable import ErmCompress

@Suite struct ReadRangeTests {
  static let chunk = 64 * 1024
  let gz = ChunkedGzip(chunkSize: ReadRangeTests.chunk)

  @Test func randomRangesEqualSlicesOfTheOriginal() throws {
    let chunk = Self.chunk
    let data = TestData.text(3 * chunk) + TestData.random(chunk) + TestData.text(2 * chunk + 321, seed: 7)
    let (stored, index) = try storeChunked(data, gz)
    var rng = SplitMix64(seed: 11)
    for _ in 0..<200 {
      let a = Int(rng.next() % UInt64(data.count + 1))
      let b = Int(rng.next() % UInt64(data.count + 1))
      let range = min(a, b)..<max(a, b)
      expectSameBytes(try readRange(range, stored, index, gz), Array(data[range]), "range \(range)")
    }
  }

  @Test func rangesOnChunkBoundariesEqualSlices() throws {
    let chunk = Self.chunk
    let data = TestData.text(4 * chunk)
    let (stored, index) = try storeChunked(data, gz)
    for range in [0..<chunk, chunk..<2 * chunk, chunk - 1..<chunk + 1, 2 * chunk..<4 * chunk, 4 * chunk..<4 * chunk, 0..<0] {
      expectSameBytes(try readRange(range, stored, index, gz), Array(data[range]), "range \(range)")
    }
  }

  @Test func readTouchesOnlyTheChunksItCovers() throws {
    let chunk = Self.chunk
    let data = TestData.text(4 * chunk)
    var (stored, index) = try storeChunked(data, gz)
    // Destroy chunks 0 and 3; a read inside chunks 1...2 must still succeed.
    for i in [0, 3] { stored[index.entries[i].storedOffset + 15] ^= 0xff }
    let range = chunk + 10..<3 * chunk - 10
    expectSameBytes(try readRange(range, stored, index, gz), Array(data[range]))
    expectGzipError([.corrupt, .checksumMismatch, .sizeMismatch, .truncated]) { () throws in
      try readRange(0..<10, stored, index, gz)
    }
  }

  @Test func decompressChunkGivesEachChunk() throws {
    let data = TestData.text(3 * Self.chunk + 5)
    let (stored, index) = try storeChunked(data, gz)
    for i in index.entries.indices {
      let range = index.logicalRange(ofChunk: i)
      var out = [UInt8](repeating: 0, count: range.count)
      try stored.withUnsafeBytes { (s: UnsafeRawBufferPointer) throws in
        try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws in
          try gz.decompressChunk(i, stored: s, index: index, into: o)
        }
      }
      expectSameBytes(out, Array(data[range]))
    }
  }

  @Test func readOutsideTheFileIsInvalidArgument() throws {
    let data = TestData.text(1000)
    let (stored, index) = try storeChunked(data, gz)
    expectGzipError([.invalidArgument]) { () throws in try readRange(990..<1001, stored, index, gz) }
  }

  @Test func readWithWrongOutputSizeIsInvalidArgument() throws {
    let (stored, index) = try storeChunked(TestData.text(1000), gz)
    var out = [UInt8](repeating: 0, count: 5)
    expectGzipError([.invalidArgument]) { () throws in
      try stored.withUnsafeBytes { (s: UnsafeRawBufferPointer) throws in
        try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws in
          try gz.read(0..<10, stored: s, index: index, into: o)
        }
      }
    }
  }

  @Test func decompressChunkOutOfRangeIsInvalidArgument() throws {
    let (stored, index) = try storeChunked(TestData.text(1000), gz)
    var out = [UInt8](repeating: 0, count: 1000)
    expectGzipError([.invalidArgument]) { () throws in
      try stored.withUnsafeBytes { (s: UnsafeRawBufferPointer) throws in
        try out.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) throws in
          try gz.decompressChunk(1, stored: s, index: index, into: o)
        }
      }
    }
  }

  @Test func storedBytesShorterThanTheIndexAreTruncated() throws {
    let data = TestData.text(3 * Self.chunk)
    let (stored, index) = try storeChunked(data, gz)
    expectGzipError([.truncated]) { () throws in try readAll(Array(stored.dropLast(1)), index, gz) }
  }

  @Test func indexWithWrongEntryCountIsInvalidArgument() throws {
    let data = TestData.text(3 * Self.chunk)
    var (stored, index) = try storeChunked(data, gz)
    index.entries.removeLast()
    stored.removeLast(0)
    expectGzipError([.invalidArgument]) { () throws in try readAll(stored, index, gz) }
  }
}
