import ErmAlloc
import Synchronization
import ErmCompress
import SystemPackage
import XCTest

@testable import ErmCore

final class CompressOnCloseTests: XCTestCase {
  func testLastCloseOfAModifiedFileCompressesIt() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(50_000))
    XCTAssertFalse(try fs.isCompressed("/a"))
    try fs.close(fd)
    XCTAssertTrue(try fs.isCompressed("/a"))
    XCTAssertLessThan(try fs.stat("/a").storedSize, 50_000 / 4)
  }

  func testCloseWhileAnotherDescriptorIsOpenDoesNotCompress() throws {
    let fs = try makeFS()
    let a = try fs.open("/a", .writeOnly, options: .create)
    let b = try fs.open("/a", .readOnly)
    try fs.write(a, bytes: text(10_000))
    try fs.close(a)
    XCTAssertFalse(try fs.isCompressed("/a"))
    try fs.close(b)
    XCTAssertTrue(try fs.isCompressed("/a"))
  }

  func testStatReportsTheLogicalSizeOfACompressedFile() throws {
    let fs = try makeFS()
    try fs.put("/a", text(50_000))
    XCTAssertEqual(try fs.stat("/a").size, 50_000)
  }

  func testCompressedFileReadsBackExactly() throws {
    let fs = try makeFS()
    let data = text(30_000) + noise(9_000) + text(1_234)
    try fs.put("/a", data)
    assertSameBytes(try fs.get("/a"), data)
  }

  func testCloseWithoutWritesDoesNotRecompress() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    try fs.put("/a", text(50_000))
    let generation = try fs.generation("/a")
    let before = fs.statistics
    let fd = try fs.open("/a", .readWrite)
    _ = try fs.read(fd, upToCount: 100)
    try fs.close(fd)
    XCTAssertEqual(try fs.generation("/a"), generation)
    XCTAssertEqual(fs.statistics.storedBytes, before.storedBytes)
    XCTAssertEqual(fs.statistics.allocator, before.allocator)
  }

  func testFirstWriteMaterialisesTheFile() throws {
    let fs = try makeFS()
    try fs.put("/a", text(20_000))
    let fd = try fs.open("/a", .readWrite)
    XCTAssertTrue(try fs.isCompressed("/a"), "opening for writing alone does not materialise")
    try fs.pwrite(fd, bytes: [0x41], at: 10_000)
    XCTAssertFalse(try fs.isCompressed("/a"))
    XCTAssertEqual(try fs.stat("/a").storedSize, Int64(pages(20_000)))
    try fs.close(fd)
    var expected = text(20_000)
    expected[10_000] = 0x41
    assertSameBytes(try fs.get("/a"), expected)
  }

  func testTruncateMaterialisesTheFile() throws {
    let fs = try makeFS()
    try fs.put("/a", text(20_000))
    let fd = try fs.open("/a", .readWrite)
    try fs.ftruncate(fd, to: 15_000)
    XCTAssertFalse(try fs.isCompressed("/a"))
    try fs.close(fd)
    assertSameBytes(try fs.get("/a"), Array(text(20_000).prefix(15_000)))
  }

  func testIncompressibleFileIsNotStoredLarger() throws {
    let fs = try makeFS()
    try fs.put("/a", noise(20_000))
    XCTAssertLessThanOrEqual(try fs.stat("/a").storedSize, Int64(pages(20_000)))
    assertSameBytes(try fs.get("/a"), noise(20_000))
  }

  func testCompressionReturnsMemoryToTheAllocator() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(1 << 20))
    let materialised = allocator.statistics.bytesReserved
    try fs.close(fd)
    XCTAssertLessThan(allocator.statistics.bytesReserved, materialised / 4)
    try fs.assertAccountingConsistent(allocator)
  }

  func testEmptyFileHoldsNoMemoryAfterClose() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(10_000))
    try fs.ftruncate(fd, to: 0)
    try fs.close(fd)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
    assertSameBytes(try fs.get("/a"), [])
  }

  func testSequentialSmallReadsDecompressEachChunkOnce() throws {
    let codec = CountingCodec()
    let fs = try makeFS(codec: codec)
    let data = text(10 * testChunkSize)
    try fs.put("/a", data)
    codec.decompressions.store(0, ordering: .relaxed)
    let fd = try fs.open("/a", .readOnly)
    var all: [UInt8] = []
    while true {
      let piece = try fs.read(fd, upToCount: 1000)
      if piece.isEmpty { break }
      all += piece
    }
    assertSameBytes(all, data)
    XCTAssertEqual(codec.decompressions.load(ordering: .relaxed), 10)
  }

  func testReadingOneRangeDecompressesOnlyTheChunksItCovers() throws {
    let codec = CountingCodec()
    let fs = try makeFS(codec: codec)
    try fs.put("/a", text(10 * testChunkSize))
    codec.decompressions.store(0, ordering: .relaxed)
    let fd = try fs.open("/a", .readOnly)
    let piece = try fs.pread(fd, upToCount: 10, at: Int64(5 * testChunkSize - 5))
    assertSameBytes(piece, Array(text(10 * testChunkSize)[(5 * testChunkSize - 5)..<(5 * testChunkSize + 5)]))
    XCTAssertEqual(codec.decompressions.load(ordering: .relaxed), 2)
  }

  func testChunksTheCodecFailsOnAreStoredRawAndEveryByteKept() throws {
    let codec = FailingCodec(failAfter: 2, scribbles: false)
    let fs = try makeFS(codec: codec)
    let data = text(10 * testChunkSize)
    try fs.put("/a", data)
    XCTAssertTrue(try fs.isCompressed("/a"))
    let index = try fs.resolve("/a").contents.withLock { state -> ChunkIndex? in
      if case .compressed(_, let index) = state.data { return index }
      return nil
    }
    XCTAssertEqual(index?.entries.filter { !$0.isRaw }.count, 2, "two chunks compressed")
    XCTAssertTrue(index?.entries.filter(\.isRaw).allSatisfy { $0.rawCRC32 != nil } ?? false,
                  "raw chunks carry their CRC-32")
    assertSameBytes(try fs.get("/a"), data)
  }

  func testInPlaceCompressionFailureKeepsEveryByte() throws {
    // No room in the quota for a compressed copy: compression happens in place, where a
    // failing chunk may have scribbled over its own bytes before failing.
    let data = text(10 * testChunkSize)
    let codec = FailingCodec(failAfter: 2, scribbles: true)
    let fs = try makeFS(byteQuota: pages(data.count), codec: codec)
    try fs.put("/a", data)
    XCTAssertTrue(try fs.isCompressed("/a"), "stored as an index of two gzip and eight raw chunks")
    assertSameBytes(try fs.get("/a"), data)
    let index = try fs.resolve("/a").contents.withLock { state -> ChunkIndex? in
      if case .compressed(_, let index) = state.data { return index }
      return nil
    }
    XCTAssertEqual(index?.entries.map(\.isRaw), [false, false] + Array(repeating: true, count: 8),
                   "two chunks compressed, the rest kept raw")
  }

  func testCompressionWithoutRoomForACopyHappensInPlace() throws {
    let data = text(10 * testChunkSize)
    let fs = try makeFS(byteQuota: pages(data.count))
    try fs.put("/a", data)
    XCTAssertTrue(try fs.isCompressed("/a"))
    XCTAssertLessThan(fs.statistics.storedBytes, data.count / 4)
    assertSameBytes(try fs.get("/a"), data)
  }

  func testCorruptStoredBytesReadAsEBADMSG() throws {
    let fs = try makeFS()
    try fs.put("/a", text(3 * testChunkSize))
    try corruptFirstChunk(of: "/a", in: fs)
    let fd = try fs.open("/a", .readOnly)
    assertErrno(.badMessage) { () throws(Errno) in try fs.read(fd, upToCount: 100) }
    assertErrno(.badMessage) { () throws(Errno) in
      try fs.withContents(ofPath: "/a") { (contents) throws(Errno) in try contents.bytes(0..<10) }
    }
  }

  func testCorruptStoredBytesMakeTheFirstWriteEBADMSGAndChangeNothing() throws {
    let fs = try makeFS()
    try fs.put("/a", text(3 * testChunkSize))
    try corruptFirstChunk(of: "/a", in: fs)
    let stored = fs.statistics.storedBytes
    let fd = try fs.open("/a", .writeOnly)
    assertErrno(.badMessage) { () throws(Errno) in try fs.write(fd, bytes: [1]) }
    XCTAssertTrue(try fs.isCompressed("/a"))
    XCTAssertEqual(fs.statistics.storedBytes, stored, "the failed materialisation gave its reservation back")
    XCTAssertEqual(try fs.fstat(fd).size, Int64(3 * testChunkSize))
  }

  func testMaterialisingBeyondTheQuotaIsENOSPC() throws {
    let fs = try makeFS(byteQuota: 10_000)
    try fs.put("/a", text(9_000))  // stored far smaller than 9 000 bytes
    try fs.put("/b", noise(2_000))  // incompressible: stored as 2 000 bytes
    let fd = try fs.open("/a", .writeOnly)
    // Materialising /a needs its logical size: 9 000 + /b's stored bytes > 10 000.
    assertErrno(.noSpace) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: 0) }
    XCTAssertTrue(try fs.isCompressed("/a"))
  }

  private func corruptFirstChunk(of path: String, in fs: ErmFS) throws {
    let inode = try fs.resolve(path)
    try inode.contents.withLock { state in
      guard case .compressed(let stored, let index) = state.data, !index.entries[0].isRaw else {
        throw FsxFailure(operation: 0, message: "expected a compressed first chunk")
      }
      stored.withUnsafeMutableBytesForTesting { bytes in
        let entry = index.entries[0]
        bytes[entry.storedOffset + entry.storedLength / 2] ^= 0x5A
      }
    }
  }
}

/// The zlib codec, counting decompressions.
final class CountingCodec: GzipCodec {
  let decompressions = Atomic<Int>(0)
  let inner = ZlibCodec()
  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel,
                      into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    try inner.compressMember(input, level: level, into: output)
  }
  func decompressMember(_ member: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    decompressions.add(1, ordering: .relaxed)
    try inner.decompressMember(member, into: output)
  }
}

/// The zlib codec, whose compression fails (scribbling over its input first, as a
/// failing in-place compression may) after `failAfter` successes.
final class FailingCodec: GzipCodec {
  let remaining: Atomic<Int>
  let scribbles: Bool
  let inner = ZlibCodec()
  init(failAfter: Int, scribbles: Bool) {
    remaining = Atomic(failAfter)
    self.scribbles = scribbles
  }
  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel,
                      into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    if remaining.subtract(1, ordering: .relaxed).newValue < 0 {
      // In place, input and output overlap: a failure may leave either scribbled.
      if scribbles {
        UnsafeMutableRawBufferPointer(mutating: input).initializeMemory(as: UInt8.self, repeating: 0xEE)
      }
      throw GzipError(.noMemory, "injected failure")
    }
    return try inner.compressMember(input, level: level, into: output)
  }
  func decompressMember(_ member: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try inner.decompressMember(member, into: output)
  }
}
