import Synchronization
import Testing
@testable import ErmCompress

/// Mixed data: compressible text, incompressible runs, a short tail, and real files.
func mixedData(chunk: Int) -> [UInt8] {
  var data = TestData.text(3 * chunk + 17) + TestData.random(2 * chunk, seed: 3) + TestData.text(chunk, seed: 5)
  if let headers = RealData.headers { data += headers.prefix(6 * chunk) }
  if let binary = RealData.binary { data += binary.prefix(4 * chunk) }
  return data + TestData.random(chunk / 3, seed: 8)
}

/// ISA-L's output is valid but not bit-for-bit reproducible (it varies with the memory
/// layout: docs/decisions/gzip-backends.md); zlib's and libdeflate's is.
func isReproducible(_ gz: ChunkedGzip) -> Bool { gz.codec.name != GzipBackend.isal.rawValue }

/// `actual` is the stored file `expected` is: the same bytes and index for reproducible
/// codecs; for ISA-L the same layout of chunks and the same data when read back.
func expectSameStoredFile(
  _ actual: (stored: [UInt8], index: ChunkIndex), _ expected: (stored: [UInt8], index: ChunkIndex),
  of data: [UInt8], _ gz: ChunkedGzip, sourceLocation: SourceLocation = #_sourceLocation
) throws {
  if isReproducible(gz) {
    #expect(actual.index == expected.index, sourceLocation: sourceLocation)
    expectSameBytes(actual.stored, expected.stored, sourceLocation: sourceLocation)
  } else {
    #expect(actual.index.entries.count == expected.index.entries.count, sourceLocation: sourceLocation)
    #expect(actual.index.version == expected.index.version, sourceLocation: sourceLocation)
    #expect(actual.index.storedSize == actual.stored.count, sourceLocation: sourceLocation)
  }
  expectSameBytes(try readAll(actual.stored, actual.index, gz), data, sourceLocation: sourceLocation)
}

/// Compression on the pool gives the stored file of the single-threaded call (for
/// reproducible codecs, exactly its bytes and index).
@Suite(.timeLimit(.minutes(2))) struct PoolCompressionTests {
  static let chunk = 64 * 1024
  static let data = mixedData(chunk: chunk)

  func sequential(_ gz: ChunkedGzip, _ data: [UInt8]) throws -> (stored: [UInt8], index: ChunkIndex) {
    var buffer = data
    let index = try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: data.count) }
    return (Array(buffer.prefix(index.storedSize)), index)
  }

  func pooledInPlace(_ gz: ChunkedGzip, _ data: [UInt8], _ pool: WorkerPool) throws -> (stored: [UInt8], index: ChunkIndex) {
    var buffer = data + [0x55, 0x55]
    let index = try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: data.count, pool: pool) }
    #expect(buffer.suffix(2) == [0x55, 0x55], "bytes past logicalSize were touched")
    return (Array(buffer.prefix(index.storedSize)), index)
  }

  @Test(arguments: GzipBackend.allCases)
  func inPlaceOnThePoolEqualsTheSingleThreadedResult(_ backend: GzipBackend) throws {
    let pool = WorkerPool(threadCount: 2)
    defer { pool.stop() }
    let gz = try ChunkedGzip(backend: backend, chunkSize: Self.chunk)
    let expected = try sequential(gz, Self.data)
    let pooled = try pooledInPlace(gz, Self.data, pool)
    #expect(pooled.index.version == ChunkIndex.currentVersion)
    try expectSameStoredFile(pooled, expected, of: Self.data, gz)
  }

  @Test(arguments: [0, 1, 20, 21, 1023, 1024, 1025, 64 * 1024 - 1, 64 * 1024 + 1])
  func oddSizesOnThePool(_ size: Int) throws {
    for backend in GzipBackend.allCases {
      let gz = try ChunkedGzip(backend: backend, chunkSize: 1024)
      let data = TestData.text(size, seed: UInt64(size)) + TestData.random(size / 3, seed: UInt64(size))
      try expectSameStoredFile(try pooledInPlace(gz, data, .shared), try sequential(gz, data), of: data, gz)
    }
  }

  @Test(arguments: GzipBackend.allCases)
  func compressIntoASeparateOutputLeavesTheInputAlone(_ backend: GzipBackend) throws {
    let gz = try ChunkedGzip(backend: backend, chunkSize: Self.chunk)
    let expected = try sequential(gz, Self.data)
    var output = [UInt8](repeating: 0xee, count: Self.data.count)
    let input = Self.data
    let index = try input.withUnsafeBytes { i in
      try output.withUnsafeMutableBytes { o in try gz.compress(i, into: o, pool: .shared) }
    }
    #expect(input == Self.data)
    try expectSameStoredFile((Array(output.prefix(index.storedSize)), index), expected, of: Self.data, gz)
  }

  @Test func compressIntoATooSmallOrOverlappingOutputIsInvalidArgument() throws {
    let gz = try ChunkedGzip(backend: .isal, chunkSize: Self.chunk)
    var buffer = TestData.text(3 * Self.chunk)
    let count = buffer.count
    buffer.withUnsafeMutableBytes { b in
      expectGzipError([.invalidArgument]) {
        try gz.compress(UnsafeRawBufferPointer(rebasing: b[0..<(count / 2)]),
                        into: UnsafeMutableRawBufferPointer(rebasing: b[(count / 2)..<(count / 2 + 100)]), pool: .shared)
      }
      expectGzipError([.invalidArgument]) {
        try gz.compress(UnsafeRawBufferPointer(rebasing: b[0..<(count / 2)]),
                        into: UnsafeMutableRawBufferPointer(rebasing: b[100..<count]), pool: .shared)
      }
      expectGzipError([.invalidArgument]) { try gz.compressInPlace(b, logicalSize: count + 1, pool: .shared) }
    }
  }

  @Test func aCodecFailingOnSomeChunksLeavesThemRawAndLosesNothing() throws {
    let pool = WorkerPool(threadCount: 2)
    defer { pool.stop() }
    let gz = ChunkedGzip(codec: FailingEveryThirdCodec(), chunkSize: Self.chunk)
    let data = TestData.text(12 * Self.chunk + 5)
    let (stored, index) = try pooledInPlace(gz, data, pool)
    #expect(index.entries.count == 13)
    #expect(index.entries.contains { $0.isRaw })
    #expect(index.entries.contains { !$0.isRaw })
    #expect(index.entries.allSatisfy { !$0.isRaw || $0.rawCRC32 != nil })
    expectSameBytes(try readAll(stored, index, ChunkedGzip()), data)
  }

  @Test func manyFilesCompressAndReadAtOnceOnTheSharedPool() throws {
    let gz = try ChunkedGzip(backend: .libdeflate, level: .fastest, chunkSize: Self.chunk)  // reproducible bytes
    let inputs = (0..<8).map { TestData.text(5 * Self.chunk + $0 * 999, seed: UInt64($0)) + TestData.random(Self.chunk, seed: UInt64($0)) }
    let expected = try inputs.map { try sequential(gz, $0) }
    final class Results: @unchecked Sendable {
      var ok: [Int]
      init(_ n: Int) { ok = [Int](repeating: 0, count: n) }
    }
    let results = Results(inputs.count)
    results.ok.withUnsafeMutableBufferPointer { ok in
      nonisolated(unsafe) let ok = ok
      onThreads(inputs.count) { t in
        for _ in 0..<4 {
          var buffer = inputs[t]
          guard let index = try? buffer.withUnsafeMutableBytes({ try gz.compressInPlace($0, logicalSize: inputs[t].count, pool: .shared) }),
                index == expected[t].index, buffer.prefix(index.storedSize).elementsEqual(expected[t].stored) else { return }
          var out = [UInt8](repeating: 0, count: inputs[t].count)
          let stored = Array(buffer.prefix(index.storedSize))
          let read: Void? = try? stored.withUnsafeBytes { s in
            try out.withUnsafeMutableBytes { o in try gz.read(0..<inputs[t].count, stored: s, index: index, into: o, pool: .shared) }
          }
          guard read != nil, out == inputs[t] else { return }
          ok[t] += 1
        }
      }
    }
    #expect(results.ok == [Int](repeating: 4, count: inputs.count))
  }
}

/// zlib, except that every third member compression throws ENOMEM (counted with an
/// atomic, not a Mutex, so it can run under ThreadSanitizer).
struct FailingEveryThirdCodec: GzipCodec {
  final class Calls: Sendable { let count = Atomic<Int>(0) }
  let calls = Calls()
  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel, into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    if calls.count.wrappingAdd(1, ordering: .relaxed).newValue % 3 == 0 {
      throw GzipError(.noMemory, "deflate could not allocate memory")
    }
    return try ZlibCodec().compressMember(input, level: level, into: output)
  }
  func decompressMember(_ member: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try ZlibCodec().decompressMember(member, into: output)
  }
}

/// Reads on the pool give exactly what the single-threaded read gives.
@Suite(.timeLimit(.minutes(2))) struct PoolReadTests {
  static let chunk = 64 * 1024
  static let data = mixedData(chunk: chunk)

  @Test(arguments: GzipBackend.allCases)
  func rangesReadOnThePoolEqualTheData(_ decoder: GzipBackend) throws {
    let gz = try ChunkedGzip(backend: .libdeflate, chunkSize: Self.chunk, decoder: decoder)
    let (stored, index) = try storeChunked(Self.data, gz)
    let n = Self.data.count
    var rng = SplitMix64(seed: 42)
    var ranges = [0..<n, 0..<Self.chunk, 1..<(n - 1), (Self.chunk - 1)..<(3 * Self.chunk + 1), (n - 10)..<n, 5..<5]
    for _ in 0..<30 {
      let a = Int(rng.next() % UInt64(n))
      let b = Int(rng.next() % UInt64(n))
      ranges.append(min(a, b)..<max(a, b))
    }
    for range in ranges {
      var out = [UInt8](repeating: 0xaa, count: range.count)
      try stored.withUnsafeBytes { s in
        try out.withUnsafeMutableBytes { o in try gz.read(range, stored: s, index: index, into: o, pool: .shared) }
      }
      expectSameBytes(out, Array(Self.data[range]), "range \(range)")
    }
  }

  @Test func decompressChunksFansOutOverWholeChunks() throws {
    let gz = try ChunkedGzip(backend: .isal, chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(Self.data, gz)
    for chunks in [0..<index.entries.count, 2..<5, 4..<5, (index.entries.count - 2)..<index.entries.count] {
      let range = index.logicalRange(ofChunks: chunks)
      var out = [UInt8](repeating: 0, count: range.count)
      try stored.withUnsafeBytes { s in
        try out.withUnsafeMutableBytes { o in try gz.decompressChunks(chunks, stored: s, index: index, into: o, pool: .shared) }
      }
      expectSameBytes(out, Array(Self.data[range]), "chunks \(chunks)")
    }
    var out = [UInt8](repeating: 0, count: 10)
    expectGzipError([.invalidArgument]) {
      try stored.withUnsafeBytes { s in
        try out.withUnsafeMutableBytes { o in try gz.decompressChunks(0..<(index.entries.count + 1), stored: s, index: index, into: o, pool: .shared) }
      }
    }
  }

  @Test func theFirstDamagedChunkInFileOrderIsReported() throws {
    let gz = try ChunkedGzip(backend: .isal, chunkSize: Self.chunk)
    var (stored, index) = try storeChunked(Self.data, gz)
    #expect(index.entries[4].isRaw)
    stored[index.entries[4].storedOffset + 100] ^= 1  // raw chunk
    stored[index.entries[8].storedOffset + 30] ^= 1  // gzip member
    for _ in 0..<20 {
      var out = [UInt8](repeating: 0, count: Self.data.count)
      do {
        try stored.withUnsafeBytes { s in
          try out.withUnsafeMutableBytes { o in try gz.read(0..<Self.data.count, stored: s, index: index, into: o, pool: .shared) }
        }
        Issue.record("damaged file was read")
      } catch let error as GzipError {
        #expect(error.message.hasPrefix("chunk 4:"), "\(error)")
        #expect(error.errno == .badMessage)
      }
    }
  }
}
