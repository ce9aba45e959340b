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
    XCTAssertEqual(try fs.stat("/a").storedSize, 20_000)
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
    XCTAssertLessThanOrEqual(try fs.stat("/a").storedSize, 20_000)
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
    XCTAssertEqual(allocator.statistics.bytesLive, fs.statistics.storedBytes)
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

  func testCompressionFailureKeepsEveryByte() throws {
    let codec = FailingCodec(failAfter: 2)
    let fs = try makeFS(codec: codec)
    let data = text(10 * testChunkSize)
    try fs.put("/a", data)
    assertSameBytes(try fs.get("/a"), data)
    XCTAssertLessThan(try fs.stat("/a").storedSize, Int64(data.count), "two chunks compressed")
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
  let inner = ZlibCodec()
  init(failAfter: Int) { remaining = Atomic(failAfter) }
  func compressMember(_ input: UnsafeRawBufferPointer, level: CompressionLevel,
                      into output: UnsafeMutableRawBufferPointer) throws(GzipError) -> Int? {
    if remaining.subtract(1, ordering: .relaxed).newValue < 0 {
      UnsafeMutableRawBufferPointer(mutating: input).initializeMemory(as: UInt8.self, repeating: 0xEE)
      throw GzipError(.noMemory, "injected failure")
    }
    return try inner.compressMember(input, level: level, into: output)
  }
  func decompressMember(_ member: UnsafeRawBufferPointer,
                        into output: UnsafeMutableRawBufferPointer) throws(GzipError) {
    try inner.decompressMember(member, into: output)
  }
}
