import Testing
@testable import ErmCompress

/// The system `gzip` tool must read what ErmCompress writes, and the other way round.
@Suite(.enabled(if: SystemGzip.path != nil, "needs the gzip tool (scripts/install-deps.sh installs it)"))
struct InteropTests {
  static let chunk = 64 * 1024

  func gzipStream(_ stored: [UInt8], _ index: ChunkIndex, _ gz: ChunkedGzip) throws -> [UInt8] {
    var out: [UInt8] = []
    try stored.withUnsafeBytes { s in
      try gz.writeGzipStream(stored: s, index: index) { (piece: UnsafeRawBufferPointer) throws(GzipError) in out += piece }
    }
    return out
  }

  @Test func storedBlobDecompressesWithGzipD() throws {
    let data = TestData.text(5 * Self.chunk + 1000)
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(data, gz)
    #expect(!index.entries.contains { $0.isRaw })
    let result = try SystemGzip.decompress(stored)
    #expect(result.status == 0)
    expectSameBytes(result.output, data)
  }

  @Test func gzipStreamWithRawChunksDecompressesWithGzipD() throws {
    let chunk = 128 * 1024  // raw chunks larger than one 65535-byte stored block
    let data = TestData.random(chunk) + TestData.text(chunk) + TestData.random(chunk + 100, seed: 4) + TestData.text(50)
    let gz = ChunkedGzip(chunkSize: chunk)
    let (stored, index) = try storeChunked(data, gz)
    #expect(index.entries.map(\.isRaw) == [true, false, true, true])
    let stream = try gzipStream(stored, index, gz)
    let result = try SystemGzip.decompress(stream)
    #expect(result.status == 0)
    expectSameBytes(result.output, data)
    expectSameBytes(try gunzipToArray(stream), data)
  }

  @Test func gzipStreamOfAnEmptyFileDecompressesWithGzipD() throws {
    let gz = ChunkedGzip()
    let (stored, index) = try storeChunked([], gz)
    let stream = try gzipStream(stored, index, gz)
    let result = try SystemGzip.decompress(stream)
    #expect(result.status == 0)
    #expect(result.output.isEmpty)
    expectSameBytes(try gunzipToArray(stream), [])
  }

  @Test func gzipStreamOfCompressedChunksIsTheStoredBytes() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(TestData.text(3 * Self.chunk), gz)
    expectSameBytes(try gzipStream(stored, index, gz), stored)
  }

  @Test(arguments: ["-1", "-6", "-9"])
  func gzipToolOutputDecompressesWithGunzip(_ level: String) throws {
    let data = TestData.text(700_000, seed: 12) + TestData.random(90_000)
    // Compressing a named file puts FNAME in the header, as real .gz files have.
    let compressed = try SystemGzip.run([level, "-c"], input: data)
    #expect(compressed.status == 0)
    #expect(compressed.output[3] & 0x08 != 0)
    expectSameBytes(try gunzipToArray(compressed.output), data)
  }

  @Test func concatenatedGzipToolOutputsDecompressWithGunzip() throws {
    let a = TestData.text(30_000, seed: 1)
    let b = TestData.text(40_000, seed: 2)
    let file = try SystemGzip.run(["-c"], input: a).output + SystemGzip.run(["-9", "-c", "-n"], input: b).output
    expectSameBytes(try gunzipToArray(file), a + b)
  }

  @Test func gzipDRejectsADamagedStoredBlob() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    var (stored, index) = try storeChunked(TestData.text(2 * Self.chunk), gz)
    stored[index.entries[0].storedOffset + index.entries[0].storedLength - 7] ^= 0x01
    #expect(try SystemGzip.decompress(stored).status != 0)
  }
}
