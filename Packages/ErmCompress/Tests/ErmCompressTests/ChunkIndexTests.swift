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
}
