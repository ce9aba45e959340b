import Dispatch
import ErmAlloc
import ErmCompress
import Synchronization
import SystemPackage
import XCTest

@testable import ErmCore

/// The configured backends, the worker pool and the background compression mode, seen
/// through ErmFS.
final class CompressionBackendTests: XCTestCase {
  func testEveryBackendAndDecoderRoundTripsThroughTheFileSystem() throws {
    for backend in GzipBackend.allCases {
      for decoder in GzipBackend.allCases {
        let fs = try ErmFS(configuration: .init(chunkSize: 4096, backend: backend, decoder: decoder,
                                                allocator: PageAllocator()))
        let data = text(50_000) + noise(9000) + text(3000, seed: 7)
        try fs.put("/a", data)
        XCTAssertTrue(try fs.isCompressed("/a"), "\(backend)")
        assertSameBytes(try fs.get("/a"), data)
        XCTAssertLessThan(fs.statistics.storedBytes, data.count, "\(backend) -> \(decoder)")
      }
    }
  }

  func testTheDefaultIsISALLevelOneDecodedByLibdeflate() throws {
    let configuration = ErmFS.Configuration()
    XCTAssertEqual(configuration.backend, .isal)
    let chunked = try configuration.makeChunkedGzip()
    XCTAssertEqual(chunked.level, .fastest)
    XCTAssertEqual(chunked.codec.name, GzipBackend.isal.codec.name)
    XCTAssertEqual(chunked.decoder.name, GzipBackend.libdeflate.codec.name)
  }

  func testALevelOutsideTheBackendsRangeIsEINVAL() {
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(backend: .isal, compressionLevel: .default))  // ISA-L: 0...3
    }
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(chunkSize: 100))
    }
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(compression: .background(maxPendingBytes: -1)))
    }
  }

  func testAFlippedByteInARawChunkReadsAsEBADMSG() throws {
    let fs = try makeFS()
    try fs.put("/a", noise(3 * testChunkSize))  // incompressible: raw chunks
    try fs.resolve("/a").contents.withLock { state in
      guard case .compressed(let stored, let index) = state.data, index.entries[1].isRaw else {
        throw FsxFailure(operation: 0, message: "expected raw chunks")
      }
      stored.withUnsafeMutableBytesForTesting { $0[index.entries[1].storedOffset + 10] ^= 0x01 }
    }
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.pread(fd, upToCount: 100, at: 0), Array(noise(100)), "chunk 0 is intact")
    assertErrno(.badMessage) { () throws(Errno) in
      try fs.pread(fd, upToCount: 100, at: Int64(testChunkSize + 5))
    }
  }

  func testLargeReadsOfACompressedFileSpanTheFileExactly() throws {
    let fs = try makeFS()
    let data = text(37 * testChunkSize + 123)
    try fs.put("/a", data)
    let fd = try fs.open("/a", .readOnly)
    var all: [UInt8] = []
    while true {
      let piece = try fs.read(fd, upToCount: 5 * testChunkSize + 17)  // many chunks per read
      if piece.isEmpty { break }
      all += piece
    }
    assertSameBytes(all, data)
  }

  func testManyFilesClosingAtOnceAreAllCompressedAndExact() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let threads = 8, files = 25
    onThreads(threads) { thread in
      for file in 0..<files {
        let fd = try fs.open("/t\(thread)-\(file)", .writeOnly, options: .create)
        try fs.write(fd, bytes: text(3 * testChunkSize + file, seed: thread * 100 + file))
        try fs.close(fd)  // every close compresses on the shared pool
      }
    }
    for thread in 0..<threads {
      for file in 0..<files {
        let path = "/t\(thread)-\(file)"
        XCTAssertTrue(try fs.isCompressed(path), path)
        assertSameBytes(try fs.get(path), text(3 * testChunkSize + file, seed: thread * 100 + file))
      }
    }
    try fs.assertAccountingConsistent(allocator)
  }

  // MARK: Background mode

  func testBackgroundModeReturnsFromCloseAndCompressesSoonAfter() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec, compression: .background(maxPendingBytes: 1 << 30))
    let data = text(20 * testChunkSize)
    codec.arm()
    try fs.put("/a", data)  // returns while the background thread is held in the codec
    codec.waitUntilHeld()
    XCTAssertFalse(try fs.isCompressed("/a"), "not yet: the job is in flight")
    assertSameBytes(try fs.get("/a"), data)  // readers see the plain bytes meanwhile
    codec.release()
    fs.waitForBackgroundCompression()
    XCTAssertTrue(try fs.isCompressed("/a"))
    assertSameBytes(try fs.get("/a"), data)
  }

  /// Background jobs run side by side (one thread per core): a file closed while
  /// another file's compression is held up is compressed meanwhile, not after it.
  func testABackgroundJobHeldUpDoesNotHoldBackTheNextFile() throws {
    guard WorkerPool.defaultThreadCount >= 2 else {
      print("SKIP: one core online, one background thread")
      return
    }
    let codec = GateCodec()
    let fs = try makeFS(codec: codec, compression: .background(maxPendingBytes: 1 << 30))
    codec.arm()
    try fs.put("/held", text(3 * testChunkSize))
    codec.waitUntilHeld()  // one background thread is inside the codec now
    let data = text(2 * testChunkSize + 7, seed: 3)
    try fs.put("/next", data)
    var compressed = false
    for _ in 0..<2000 where !compressed {  // up to 20 s; usually a few milliseconds
      compressed = try fs.isCompressed("/next")
      if !compressed { usleep(10_000) }
    }
    XCTAssertTrue(compressed, "/next waited for the held job")
    XCTAssertFalse(try fs.isCompressed("/held"))
    codec.release()
    fs.waitForBackgroundCompression()
    XCTAssertTrue(try fs.isCompressed("/held"))
    assertSameBytes(try fs.get("/next"), data)
  }

  func testAWriterTakesBackAQueuedJobWithoutWaiting() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec, compression: .background(maxPendingBytes: 1 << 30))
    codec.arm()
    try fs.put("/blocker", text(4 * testChunkSize))  // occupies the background thread
    codec.waitUntilHeld()
    try fs.put("/a", text(6 * testChunkSize))  // queued behind it
    let fd = try fs.open("/a", .readWrite)
    XCTAssertEqual(try fs.pwrite(fd, bytes: [0xEE], at: 0), 1, "no waiting for the queued job")
    try fs.close(fd)  // queues a new job
    codec.release()
    fs.waitForBackgroundCompression()
    var expected = text(6 * testChunkSize)
    expected[0] = 0xEE
    assertSameBytes(try fs.get("/a"), expected)
    XCTAssertTrue(try fs.isCompressed("/a"))
  }

  func testAFullQueueMakesCloseCompressItself() throws {
    let codec = GateCodec()
    let fs = try makeFS(codec: codec, compression: .background(maxPendingBytes: 8 * testChunkSize))
    codec.arm()
    try fs.put("/blocker", text(5 * testChunkSize))
    codec.waitUntilHeld()
    // 5 chunks pending; 6 more would pass the bound of 8: this close compresses itself.
    try fs.put("/big", text(6 * testChunkSize))
    XCTAssertTrue(try fs.isCompressed("/big"), "compressed by its own close (backpressure)")
    codec.release()
    fs.waitForBackgroundCompression()
    XCTAssertTrue(try fs.isCompressed("/blocker"))
  }

  func testBackgroundCompressionRacingOpenWriteUnlinkRenameKeepsEveryFileExact() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator, compression: .background(maxPendingBytes: 64 * testChunkSize))
    let threads = 4, rounds = 150
    onThreads(threads) { thread in
      var model: [String: [UInt8]] = [:]
      for round in 0..<rounds {
        let name = "/t\(thread)-\(round % 5)"
        switch round % 4 {
        case 0, 1:
          let bytes = text(2 * testChunkSize + round, seed: round)
          try fs.put(name, bytes)
          model[name] = bytes
        case 2:
          if let bytes = model[name] {
            let fd = try fs.open(name, .readWrite, options: .append)
            try fs.write(fd, bytes: [UInt8(round & 0xFF)])
            try fs.close(fd)
            model[name] = bytes + [UInt8(round & 0xFF)]
            try fs.rename(name, to: name + "r")
            try fs.rename(name + "r", to: name)
          }
        default:
          if model[name] != nil {
            try fs.unlink(name)
            model[name] = nil
          }
        }
        for (path, bytes) in model where try fs.get(path) != bytes {
          throw FsxFailure(operation: round, message: "\(path) differs")
        }
      }
    }
    fs.waitForBackgroundCompression()
    for path in try fs.allFiles() { XCTAssertTrue(try fs.isCompressed(path), path) }
    try fs.assertAccountingConsistent(allocator)
  }
}
