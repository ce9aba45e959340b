import Testing
@testable import ErmCompress

/// Raw (incompressible) chunks carry a CRC-32 in the index: a damaged raw chunk must fail
/// like a damaged gzip member (EBADMSG), never come back as silently different bytes.
@Suite struct RawChunkChecksumTests {
  static let chunk = 64 * 1024
  /// text, random (raw), text, short random tail (raw).
  static let data = TestData.text(chunk) + TestData.random(chunk) + TestData.text(chunk, seed: 9) + TestData.random(100)

  /// A chunk is a member only when that saves at least 1/32 of it: random bytes with 1%
  /// of zeros (deflates by about 1%) stay raw with every backend, with 10% of zeros
  /// (saves ~9%) they become a member; both read back exactly, also through `gzip -d`'s
  /// view of the stream.
  @Test(arguments: [GzipBackend.isal, .libdeflate, .zlib])
  func aChunkIsStoredRawUnlessCompressionSavesAThirtySecond(_ backend: GzipBackend) throws {
    func slightlyCompressible(zeros: Int, seed: UInt64) -> [UInt8] {
      var chunk = TestData.random(Self.chunk, seed: seed)
      for i in 0..<zeros { chunk[i] = 0 }
      return chunk
    }
    let barely = slightlyCompressible(zeros: Self.chunk / 100, seed: 5)
    let worth = slightlyCompressible(zeros: Self.chunk / 10, seed: 6)
    let gz = try ChunkedGzip(backend: backend, chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(barely + worth, gz)
    #expect(index.entries.map(\.isRaw) == [true, false], "\(backend)")
    #expect(index.entries[1].storedLength <= ChunkedGzip.largestWorthwhileMember(forChunkOf: Self.chunk))
    #expect(try readAll(stored, index, gz) == barely + worth)
  }

  @Test func flippedByteInARawChunkIsChecksumMismatch() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    var (stored, index) = try storeChunked(Self.data, gz)
    #expect(index.entries.map(\.isRaw) == [false, true, false, true])
    for (chunk, offsetInChunk) in [(1, 0), (1, 4096), (1, Self.chunk - 1), (3, 50)] {
      let at = index.entries[chunk].storedOffset + offsetInChunk
      stored[at] ^= 0x04
      defer { stored[at] ^= 0x04 }
      do {
        let out = try readAll(stored, index, gz)
        Issue.record("chunk \(chunk) byte \(offsetInChunk) flipped, read returned \(out == Self.data ? "the original" : "different") bytes")
      } catch let error as GzipError {
        #expect(error.kind == .checksumMismatch)
        #expect(error.errno == .badMessage)
        #expect(error.message.hasPrefix("chunk \(chunk):"), "\(error)")
      }
    }
  }

  @Test func flippedByteInARawChunkFailsAPartialRead() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    var (stored, index) = try storeChunked(Self.data, gz)
    stored[index.entries[1].storedOffset + 10_000] ^= 0x80
    // A 4 KiB read that does not even cover the damaged byte checks the whole chunk.
    let range = (Self.chunk + 100)..<(Self.chunk + 4196)
    expectGzipError([.checksumMismatch]) { try readRange(range, stored, index, gz) }
  }

  @Test func flippedByteInARawChunkFailsDecompressChunk() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    var (stored, index) = try storeChunked(Self.data, gz)
    stored[index.entries[1].storedOffset] ^= 0x01
    var out = [UInt8](repeating: 0, count: Self.chunk)
    expectGzipError([.checksumMismatch]) {
      try stored.withUnsafeBytes { s in
        try out.withUnsafeMutableBytes { o in try gz.decompressChunk(1, stored: s, index: index, into: o) }
      }
    }
  }

  @Test func flippedByteInARawChunkCompressedInPlaceIsChecksumMismatch() throws {
    let gz = ChunkedGzip(chunkSize: Self.chunk)
    var buffer = Self.data
    let index = try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: Self.data.count) }
    var stored = Array(buffer.prefix(index.storedSize))
    stored[index.entries[1].storedOffset + 77] ^= 0x10
    expectGzipError([.checksumMismatch]) { try readAll(stored, index, gz) }
  }
}
