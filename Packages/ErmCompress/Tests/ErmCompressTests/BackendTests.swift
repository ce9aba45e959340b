import CErmLibdeflate
import CErmZlib
import Testing
@testable import ErmCompress

/// Every backend writes plain gzip members that every backend (and `gzip -d`) reads.
@Suite struct BackendTests {
  static let backends = GzipBackend.allCases
  /// Every (backend, level) pair the backends accept.
  static let everyLevel: [(GzipBackend, Int32)] = GzipBackend.allCases.flatMap { b in b.levels.map { (b, $0) } }
  static let chunk = 64 * 1024

  static func level(_ raw: Int32) -> CompressionLevel { CompressionLevel(rawValue: raw)! }

  @Test func levelRangesAreEachLibrarysOwn() {
    #expect(GzipBackend.zlib.levels == 0...9)
    #expect(GzipBackend.isal.levels == 0...3)
    #expect(GzipBackend.libdeflate.levels == 0...12)
  }

  @Test(arguments: backends)
  func levelOutsideTheBackendsRangeIsInvalidArgument(_ backend: GzipBackend) throws {
    let tooHigh = Self.level(backend.levels.upperBound + 1 <= 12 ? backend.levels.upperBound + 1 : 12)
    guard !backend.levels.contains(tooHigh.rawValue) else { return }  // libdeflate takes all of 0...12
    let data = TestData.text(10_000)
    do {
      _ = try compressMember(data, level: tooHigh, codec: backend.codec)
      Issue.record("\(backend) accepted \(tooHigh)")
    } catch let error as GzipError {
      #expect(error.kind == .invalidArgument)
      #expect(error.errno == .invalidArgument)
    }
    expectGzipError([.invalidArgument]) { try ChunkedGzip(backend: backend, level: tooHigh) }
    // The unchecked initializer: the first compression refuses, before touching the buffer.
    let gz = ChunkedGzip(codec: backend.codec, chunkSize: Self.chunk, level: tooHigh)
    var buffer = data
    expectGzipError([.invalidArgument]) {
      try buffer.withUnsafeMutableBytes { try gz.compressInPlace($0, logicalSize: data.count, storingRawOnFailure: true) }
    }
    #expect(buffer == data)
    expectGzipError([.invalidArgument]) { try storeChunked(data, gz) }
  }

  @Test func chunkSizeOutsideTheSupportedRangeIsInvalidArgument() {
    expectGzipError([.invalidArgument]) { try ChunkedGzip(backend: .isal, chunkSize: 512) }
    expectGzipError([.invalidArgument]) { try ChunkedGzip(backend: .isal, chunkSize: 8 << 20) }
  }

  @Test func backendInitializerDefaults() throws {
    let gz = try ChunkedGzip(backend: .isal)
    #expect(gz.codec.name == "isal")
    #expect(gz.level == .fastest)
    #expect(gz.chunkSize == ChunkedGzip.defaultChunkSize)
    #expect(gz.decoder.name == ChunkedGzip.defaultDecoder.rawValue)
    #expect(ChunkedGzip(codec: ISALCodec()).decoder.name == "isal")  // the old initializer decodes with its codec
    #expect(try ChunkedGzip(backend: .libdeflate).level == .default)
    #expect(try ChunkedGzip(backend: .zlib, decoder: .libdeflate).decoder.name == "libdeflate")
    #expect(GzipBackend(name: "igzip") == .isal)
    #expect(GzipBackend(name: "LIBDEFLATE") == .libdeflate)
    #expect(GzipBackend(name: "lz4") == nil)
  }

  @Test(arguments: everyLevel)
  func everyDecoderReadsEveryEncodersMembers(_ backend: GzipBackend, _ rawLevel: Int32) throws {
    let level = Self.level(rawLevel)
    var inputs = [TestData.text(100_000, seed: 3), TestData.text(1, seed: 1), [], TestData.random(5000)]
    if let headers = RealData.headers { inputs.append(Array(headers.prefix(300_000))) }
    if let binary = RealData.binary { inputs.append(Array(binary.prefix(300_000))) }
    for data in inputs {
      let member = try #require(try compressMember(data, level: level, codec: backend.codec))
      for decoder in Self.backends {
        expectSameBytes(try decompressMember(member, size: data.count, codec: decoder.codec), data,
                        "\(backend) -\(rawLevel) decoded by \(decoder), \(data.count) bytes")
      }
      expectSameBytes(try gunzipToArray(member), data)
    }
  }

  @Test(arguments: backends)
  func membersDoNotDependOnTheClock(_ backend: GzipBackend) throws {
    let data = TestData.text(50_000)
    let member = try #require(try compressMember(data, level: backend.defaultLevel, codec: backend.codec))
    #expect(Array(member[0..<4]) == [0x1f, 0x8b, 8, 0])  // gzip, deflate, no optional fields
    #expect(Array(member[4..<8]) == [0, 0, 0, 0])  // MTIME 0
  }

  /// zlib and libdeflate give the same bytes for the same input every time. ISA-L does
  /// not promise it (its output varies with the memory layout; see gzip-backends.md).
  @Test(arguments: [GzipBackend.zlib, .libdeflate])
  func reproducibleBackendsGiveTheSameBytesEveryTime(_ backend: GzipBackend) throws {
    let data = TestData.text(200_000) + (RealData.headers.map { Array($0.prefix(200_000)) } ?? [])
    let first = try #require(try compressMember(data, level: backend.defaultLevel, codec: backend.codec))
    let second = try #require(try compressMember(data, level: backend.defaultLevel, codec: backend.codec))
    #expect(first == second)
  }

  @Test(arguments: backends)
  func incompressibleDataDoesNotFitInAChunkMinusOne(_ backend: GzipBackend) throws {
    let data = TestData.random(Self.chunk)
    #expect(try compressMember(data, level: backend.defaultLevel, capacity: data.count - 1, codec: backend.codec) == nil)
  }

  @Test(arguments: backends)
  func chunkedFilesOfEveryBackendReadWithEveryDecoderAndGzipD(_ backend: GzipBackend) throws {
    var data = TestData.text(3 * Self.chunk + 11) + TestData.random(Self.chunk + 5)
    if let headers = RealData.headers { data += headers.prefix(4 * Self.chunk) }
    if let binary = RealData.binary { data += binary.prefix(4 * Self.chunk) }
    let writer = try ChunkedGzip(backend: backend, chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(data, writer)
    #expect(index.entries.contains { $0.isRaw })
    #expect(index.entries.contains { !$0.isRaw })
    for decoder in Self.backends {
      let reader = try ChunkedGzip(backend: .zlib, chunkSize: Self.chunk, decoder: decoder)
      expectSameBytes(try readAll(stored, index, reader), data, "\(backend) file read by \(decoder)")
    }
    var stream: [UInt8] = []
    try stored.withUnsafeBytes { s in
      try writer.writeGzipStream(stored: s, index: index) { (piece: UnsafeRawBufferPointer) throws(GzipError) in stream += piece }
    }
    if SystemGzip.path != nil {
      let result = try SystemGzip.decompress(stream)
      #expect(result.status == 0)
      expectSameBytes(result.output, data, "gzip -d of the \(backend) stream")
    }
  }

  @Test(arguments: backends)
  func storedBlobWithoutRawChunksIsAGzipFile(_ backend: GzipBackend) throws {
    guard SystemGzip.path != nil, let headers = RealData.headers else { return }
    let writer = try ChunkedGzip(backend: backend, chunkSize: Self.chunk)
    let (stored, index) = try storeChunked(headers, writer)
    #expect(!index.entries.contains { $0.isRaw })
    let result = try SystemGzip.decompress(stored)
    #expect(result.status == 0)
    expectSameBytes(result.output, headers)
  }

  @Test func crc32AgreesAcrossLibrariesAndTheReference() {
    var rng = SplitMix64(seed: 8)
    for size in [0, 1, 3, 15, 16, 17, 63, 64, 65, 1000, 65_536, 100_003] {
      let data = TestData.random(size, seed: rng.next())
      data.withUnsafeBytes { bytes in
        let reference = bitwiseCRC32(bytes)
        #expect(CRC32.checksum(bytes) == reference, "ISA-L, \(size) bytes")
        #expect(erm_crc32(0, bytes.baseAddress, bytes.count) == reference, "zlib, \(size) bytes")
        #expect(erm_libdeflate_crc32(0, bytes.baseAddress, bytes.count) == reference, "libdeflate, \(size) bytes")
      }
    }
  }
}

/// Bitwise CRC-32 (gzip polynomial), independent of every library.
func bitwiseCRC32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
  var crc: UInt32 = 0xffff_ffff
  for byte in bytes {
    crc ^= UInt32(byte)
    for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xedb8_8320 : 0) }
  }
  return ~crc
}
