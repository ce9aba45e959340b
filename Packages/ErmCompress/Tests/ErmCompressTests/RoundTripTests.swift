import Testing
@testable import ErmCompress

@Suite struct RoundTripTests {
  static let chunk = 64 * 1024
  static let sizes = [0, 1, chunk - 1, chunk, chunk + 1, 5 * chunk + 123]

  @Test(arguments: sizes)
  func textRoundTripsAtSize(_ size: Int) throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let data = TestData.text(size)
    let (stored, index) = try storeChunked(data, gz)
    expectSameBytes(try readAll(stored, index, gz), data)
    #expect(index.logicalSize == size)
    #expect(stored.count == index.storedSize)
  }

  @Test(arguments: sizes)
  func randomRoundTripsAtSize(_ size: Int) throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let data = TestData.random(size)
    let (stored, index) = try storeChunked(data, gz)
    expectSameBytes(try readAll(stored, index, gz), data)
  }

  @Test func textCompressesToLessThanHalf() throws {
    let data = TestData.text(400_000)
    let (stored, index) = try storeChunked(data, ChunkedGzip())
    #expect(stored.count < data.count / 2)
    #expect(!index.entries.contains { $0.isRaw })
  }

  @Test func randomDataIsStoredRawAndNeverGrows() throws {
    let data = TestData.random(300_000)
    let (stored, index) = try storeChunked(data, ChunkedGzip())
    #expect(index.isAllRaw)
    expectSameBytes(stored, data)
    #expect(index.storedSize == data.count)
  }

  @Test func tinyChunkIsStoredRaw() throws {
    let (stored, index) = try storeChunked(Array("hello".utf8), ChunkedGzip())
    // 0x3610a686 is the well-known CRC-32 of "hello".
    #expect(index.entries == [.raw(at: 0, length: 5, crc32: 0x3610_a686)])
    expectSameBytes(stored, Array("hello".utf8))
  }

  @Test func mixedChunksAreMarkedIndividually() throws {
    let chunk = Self.chunk
    let data = TestData.text(chunk) + TestData.random(chunk) + TestData.text(chunk, seed: 9) + TestData.random(100)
    let gz = ChunkedGzip(chunkSize: chunk)
    let (stored, index) = try storeChunked(data, gz)
    #expect(index.entries.map(\.isRaw) == [false, true, false, true])
    expectSameBytes(try readAll(stored, index, gz), data)
    #expect(stored.count < data.count)
  }

  @Test(arguments: CompressionLevel.all)
  func everyLevelRoundTrips(_ level: CompressionLevel) throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk, level: level)
    let data = TestData.text(3 * Self.chunk + 77)
    let (stored, index) = try storeChunked(data, gz)
    expectSameBytes(try readAll(stored, index, gz), data)
    #expect(stored.count <= data.count)
    // Level 0 only makes stored blocks, which are never smaller: everything stays raw.
    #expect(index.isAllRaw == (level.rawValue == 0))
  }

  @Test func higherLevelIsNotLargerThanFastest() throws {
    let data = TestData.text(500_000)
    let best = try storeChunked(data, ChunkedGzip(level: .best)).stored.count
    let fastest = try storeChunked(data, ChunkedGzip(level: .fastest)).stored.count
    #expect(best <= fastest)
  }

  @Test func streamingPiecesOfAnySizeGiveTheSameStoredBytes() throws {
    let data = TestData.text(300_001)
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let (whole, wholeIndex) = try storeChunked(data, gz)
    var stored: [UInt8] = []
    let index = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> ChunkIndex in
      var pieces: [UnsafeRawBufferPointer] = []
      var offset = 0
      var rng = SplitMix64(seed: 5)
      while offset < raw.count {
        let n = min(Int(rng.next() % 100_000), raw.count - offset)
        pieces.append(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n]))
        offset += n
      }
      return try gz.compress(pieces) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stored.append(contentsOf: piece) }
    }
    #expect(index == wholeIndex)
    expectSameBytes(stored, whole)
  }

  @Test func sinkReceivesOneStoredChunkPerCall() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let data = TestData.text(3 * Self.chunk)
    var lengths: [Int] = []
    let index = try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> ChunkIndex in
      try gz.compress(raw) { (piece: UnsafeRawBufferPointer) throws(GzipError) in lengths.append(piece.count) }
    }
    #expect(lengths == index.entries.map(\.storedLength))
  }

  @Test func errorThrownBySinkStopsCompression() {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let data = TestData.text(3 * Self.chunk)
    var calls = 0
    expectGzipError([.noMemory]) { () throws in
      try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> ChunkIndex in
        try gz.compress(raw) { (_: UnsafeRawBufferPointer) throws(GzipError) in
          calls += 1
          throw GzipError(.noMemory, "sink is full")
        }
      }
    }
    #expect(calls == 1)
  }

  @Test func chunkSizeIsClampedIntoTheSupportedRange() {
    #expect(ChunkedGzip(chunkSize: 0).chunkSize == ChunkedGzip.supportedChunkSizes.lowerBound)
    #expect(ChunkedGzip(chunkSize: 1 << 30).chunkSize == ChunkedGzip.supportedChunkSizes.upperBound)
    #expect(ChunkedGzip().chunkSize == 128 * 1024)
    #expect(ChunkedGzip().level == .default)
  }

  @Test func compressionLevelAcceptsZeroThroughTwelve() {
    // 0...12 is the union of the backends' ranges; each codec checks its own.
    #expect(CompressionLevel(rawValue: -1) == nil)
    #expect(CompressionLevel(rawValue: 13) == nil)
    #expect(CompressionLevel(rawValue: 12)?.rawValue == 12)
    #expect(CompressionLevel(rawValue: 0) == .storeOnly)
    #expect(CompressionLevel.default.rawValue == 6)
    #expect(CompressionLevel.fastest.rawValue == 1)
    #expect(CompressionLevel.best.rawValue == 9)
  }
}
