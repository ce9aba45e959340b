import Testing
@testable import ErmCompress

@Suite struct ChunkIndexTests {
  let index = ChunkIndex(
    chunkSize: 100, logicalSize: 250,
    entries: [
      ChunkEntry(storedOffset: 0, storedLength: 40, isRaw: false),
      ChunkEntry(storedOffset: 40, storedLength: 100, isRaw: true),
      ChunkEntry(storedOffset: 140, storedLength: 30, isRaw: false),
    ])

  @Test func storedSizeIsTheSumOfEntryLengths() { #expect(index.storedSize == 170) }

  @Test func isAllRawNeedsEveryEntryRaw() {
    #expect(!index.isAllRaw)
    #expect(ChunkIndex(chunkSize: 100, logicalSize: 0, entries: []).isAllRaw)
  }

  @Test func logicalRangeOfTheLastChunkIsShort() {
    #expect(index.logicalRange(ofChunk: 0) == 0..<100)
    #expect(index.logicalRange(ofChunk: 2) == 200..<250)
    #expect(index.logicalRange(ofChunk: 3).isEmpty)
    #expect(index.logicalRange(ofChunk: -1).isEmpty)
  }

  @Test func chunksCoveringARangeIncludeBothEdges() {
    #expect(index.chunks(covering: 0..<1) == 0..<1)
    #expect(index.chunks(covering: 99..<101) == 0..<2)
    #expect(index.chunks(covering: 100..<200) == 1..<2)
    #expect(index.chunks(covering: 0..<250) == 0..<3)
    #expect(index.chunks(covering: 150..<150).isEmpty)
    #expect(index.chunks(covering: 240..<1000) == 2..<3)
  }

  @Test func anEntryStaysTwentyFourBytes() {
    #expect(MemoryLayout<ChunkEntry>.stride == 24)
  }

  @Test func logicalRangeOfChunksSpansThem() {
    #expect(index.logicalRange(ofChunks: 0..<3) == 0..<250)
    #expect(index.logicalRange(ofChunks: 1..<2) == 100..<200)
    #expect(index.logicalRange(ofChunks: 2..<2).isEmpty)
  }
}

/// Version 1 indexes (raw chunks without CRC-32) stay readable; version 2 requires it.
@Suite struct ChunkIndexVersionTests {
  static let chunk = 1024
  static let data = TestData.text(chunk) + TestData.random(chunk)

  func stored() throws -> (stored: [UInt8], index: ChunkIndex) {
    try storeChunked(Self.data, ChunkedGzip(chunkSize: Self.chunk))
  }

  @Test func compressionsProduceVersionTwoWithRawChecksums() throws {
    let (_, index) = try stored()
    #expect(index.version == 2)
    #expect(index.entries[1].isRaw && index.entries[1].rawCRC32 != nil)
    #expect(index.entries[0].rawCRC32 == nil)
  }

  @Test func aVersionOneIndexReadsRawChunksUnchecked() throws {
    var (stored, index) = try stored()
    index.version = 1
    index.entries[1].rawCRC32 = nil
    expectSameBytes(try readAll(stored, index, ChunkedGzip()), Self.data)
    stored[index.entries[1].storedOffset] ^= 1  // undetectable without a checksum: the old behaviour
    #expect(try readAll(stored, index, ChunkedGzip()) != Self.data)
  }

  @Test func aVersionTwoRawEntryWithoutChecksumIsInvalidArgument() throws {
    var (stored, index) = try stored()
    index.entries[1].rawCRC32 = nil
    expectGzipError([.invalidArgument]) { try readAll(stored, index, ChunkedGzip()) }
  }

  @Test func anUnknownVersionIsInvalidArgument() throws {
    var (stored, index) = try stored()
    for version in [0, 3] {
      index.version = version
      expectGzipError([.invalidArgument]) { try readAll(stored, index, ChunkedGzip()) }
    }
  }

  @Test func theOldInitializerMakesVersionOne() {
    #expect(ChunkIndex(chunkSize: 100, logicalSize: 0, entries: []).version == 1)
    #expect(ChunkIndex(chunkSize: 100, logicalSize: 0, entries: [], version: ChunkIndex.currentVersion).version == 2)
  }
}
