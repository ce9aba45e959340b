import Synchronization
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

/// A codec that runs zlib but fails from a given call on, as zlib does when it cannot
/// allocate its state; the real failure cannot be provoked on demand.
struct FailingCodec: GzipCodec {
  let failFromCall: Int
  final class Counter: Sendable { let value = Mutex<Int>(0) }
  let calls = Counter()
  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    let call = calls.value.withLock { $0 += 1; return $0 }
    if call >= failFromCall { throw GzipError(.noMemory, "zlib deflate could not allocate memory") }
    return try ZlibCodec().compressMember(input, level: level, into: output)
  }
  func decompressMember(_ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try ZlibCodec().decompressMember(member, into: output)
  }
}

@Suite struct InPlaceFailureTests {
  static let chunk = 64 * 1024
  let data = TestData.text(5 * InPlaceFailureTests.chunk + 100)

  @Test func codecFailureLeavesTheFailingChunkAndLaterOnesIntact() {
    let gz = ChunkedGzip(codec: FailingCodec(failFromCall: 3), chunkSize: Self.chunk)
    var buffer = data
    expectGzipError([.noMemory]) {
      try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: data.count) }
    }
    expectSameBytes(Array(buffer[(2 * Self.chunk)...]), Array(data[(2 * Self.chunk)...]))
  }

  @Test func storingRawOnFailureGivesACompleteIndex() throws {
    let gz = ChunkedGzip(codec: FailingCodec(failFromCall: 3), chunkSize: Self.chunk)
    var buffer = data
    let index = try buffer.withUnsafeMutableBytes {
      try gz.compressInPlace($0, logicalSize: data.count, storingRawOnFailure: true)
    }
    #expect(index.entries.map(\.isRaw) == [false, false, true, true, true, true])
    expectSameBytes(try readAll(Array(buffer.prefix(index.storedSize)), index, ChunkedGzip()), data)
  }
}
