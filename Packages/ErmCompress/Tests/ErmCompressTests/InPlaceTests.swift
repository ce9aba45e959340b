import Testing
@testable import ErmCompress

@Suite struct InPlaceTests {
  static let chunk = 64 * 1024

  func compressInPlace(_ data: [UInt8], _ gz: ChunkedGzip, extra: Int = 0) throws -> (stored: [UInt8], index: ChunkIndex) {
    var buffer = data + [UInt8](repeating: 0x55, count: extra)
    let index = try buffer.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) throws -> ChunkIndex in
      try gz.compressInPlace(b, logicalSize: data.count)
    }
    return (Array(buffer.prefix(index.storedSize)), index)
  }

  @Test(arguments: [0, 1, chunk - 1, chunk, chunk + 1, 7 * chunk + 5])
  func inPlaceEqualsStreamingCompressionForText(_ size: Int) throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let data = TestData.text(size)
    let streamed = try storeChunked(data, gz)
    let inPlace = try compressInPlace(data, gz)
    #expect(inPlace.index == streamed.index)
    expectSameBytes(inPlace.stored, streamed.stored)
  }

  @Test func inPlaceEqualsStreamingCompressionForMixedChunks() throws {
    let chunk = Self.chunk
    // Raw chunks after compressed ones exercise the overlapping moves.
    let data = TestData.text(chunk) + TestData.random(2 * chunk) + TestData.text(3 * chunk, seed: 3)
      + TestData.random(chunk / 2) + TestData.text(chunk + 9, seed: 4)
    let gz = ChunkedGzip(chunkSize: chunk)
    let streamed = try storeChunked(data, gz)
    let inPlace = try compressInPlace(data, gz)
    #expect(inPlace.index == streamed.index)
    expectSameBytes(inPlace.stored, streamed.stored)
    expectSameBytes(try readAll(inPlace.stored, inPlace.index, gz), data)
  }

  @Test(arguments: CompressionLevel.all)
  func inPlaceEqualsStreamingAtEveryLevel(_ level: CompressionLevel) throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk, level: level)
    let data = TestData.text(4 * Self.chunk + 1000)
    expectSameBytes(try compressInPlace(data, gz).stored, try storeChunked(data, gz).stored)
  }

  @Test func inPlaceNeverExceedsTheLogicalSize() throws {
    let data = TestData.random(5 * Self.chunk + 3)
    let result = try compressInPlace(data, ChunkedGzip(chunkSize: Self.chunk))
    #expect(result.index.storedSize == data.count)
    expectSameBytes(result.stored, data)
  }

  @Test func inPlaceUsesOnlyThePrefixGivenAsLogicalSize() throws {
    let data = TestData.text(100_000)
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    let result = try compressInPlace(data, gz, extra: 5000)
    #expect(result.index.logicalSize == data.count)
    expectSameBytes(try readAll(result.stored, result.index, gz), data)
  }

  @Test func inPlaceRejectsLogicalSizeBeyondTheBuffer() {
    var buffer = [UInt8](repeating: 1, count: 10)
    expectGzipError([.invalidArgument]) { () throws in
      try buffer.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) throws in
        try ChunkedGzip().compressInPlace(b, logicalSize: 11)
      }
    }
    expectGzipError([.invalidArgument]) { () throws in
      try buffer.withUnsafeMutableBytes { (b: UnsafeMutableRawBufferPointer) throws in
        try ChunkedGzip().compressInPlace(b, logicalSize: -1)
      }
    }
  }
}
