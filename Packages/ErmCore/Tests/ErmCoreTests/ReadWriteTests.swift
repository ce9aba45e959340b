import ErmAlloc
import SystemPackage
import XCTest

@testable import ErmCore

final class ReadWriteTests: XCTestCase {
  func testWrittenBytesReadBackThroughTheSameDescriptor() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    XCTAssertEqual(try fs.write(fd, bytes: [1, 2, 3, 4]), 4)
    try fs.lseek(fd, offset: 0, from: .start)
    XCTAssertEqual(try fs.read(fd, upToCount: 10), [1, 2, 3, 4])
  }

  func testReadUpToAHugeCountReturnsWhatTheFileHolds() throws {
    // read(fd, buf, SIZE_MAX)-style counts must not allocate the count up front.
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3, 4])
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.pread(fd, upToCount: Int.max, at: 1), [2, 3, 4])
    XCTAssertEqual(try fs.pread(fd, upToCount: Int.max, at: Int64.max), [])
    XCTAssertEqual(try fs.read(fd, upToCount: Int.max), [1, 2, 3, 4])
    XCTAssertEqual(try fs.read(fd, upToCount: Int.max), [])
  }

  func testReadAtEndOfFileReturnsNothing() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2])
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.read(fd, upToCount: 2), [1, 2])
    XCTAssertEqual(try fs.read(fd, upToCount: 2), [])
  }

  func testReadAdvancesTheOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", Array(0..<10))
    let fd = try fs.open("/a", .readOnly)
    _ = try fs.read(fd, upToCount: 3)
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 3)
  }

  func testWritePastEndZeroFillsTheGap() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: [7])
    try fs.lseek(fd, offset: 10_000, from: .start)
    try fs.write(fd, bytes: [9])
    try fs.close(fd)
    var expected = [UInt8](repeating: 0, count: 10_001)
    expected[0] = 7
    expected[10_000] = 9
    assertSameBytes(try fs.get("/a"), expected)
  }

  func testAppendWritesAtTheEndWhateverTheOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    let fd = try fs.open("/a", .readWrite, options: .append)
    try fs.lseek(fd, offset: 0, from: .start)
    try fs.write(fd, bytes: [4])
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 4)
    try fs.close(fd)
    assertSameBytes(try fs.get("/a"), [1, 2, 3, 4])
  }

  func testAppendSeesWritesThroughOtherDescriptors() throws {
    let fs = try makeFS()
    let a = try fs.open("/a", .writeOnly, options: [.create, .append])
    let b = try fs.open("/a", .writeOnly, options: [.append])
    try fs.write(a, bytes: [1])
    try fs.write(b, bytes: [2])
    try fs.write(a, bytes: [3])
    try fs.close(a)
    try fs.close(b)
    assertSameBytes(try fs.get("/a"), [1, 2, 3])
  }

  func testEachDescriptorHasItsOwnOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", Array(0..<10))
    let a = try fs.open("/a", .readOnly)
    let b = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.read(a, upToCount: 4), [0, 1, 2, 3])
    XCTAssertEqual(try fs.read(b, upToCount: 2), [0, 1])
    XCTAssertEqual(try fs.read(a, upToCount: 2), [4, 5])
  }

  func testReadingAWriteOnlyDescriptorIsEBADF() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: .create)
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.read(fd, upToCount: 1) }
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.pread(fd, upToCount: 1, at: 0) }
  }

  func testWritingAReadOnlyDescriptorIsEBADF() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    let fd = try fs.open("/a", .readOnly)
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.write(fd, bytes: [1]) }
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: 0) }
  }

  func testReadingAClosedDescriptorIsEBADF() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.close(fd)
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.read(fd, upToCount: 1) }
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.write(fd, bytes: [1]) }
  }

  func testReadingADirectoryIsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    let fd = try fs.open("/d", .readOnly)
    assertErrno(.isDirectory) { () throws(Errno) in try fs.read(fd, upToCount: 1) }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.pread(fd, upToCount: 1, at: 0) }
  }

  func testPreadDoesNotMoveTheOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", Array(0..<10))
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.pread(fd, upToCount: 3, at: 5), [5, 6, 7])
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 0)
  }

  func testPwriteDoesNotMoveTheOffset() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.pwrite(fd, bytes: [1, 2], at: 3)
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 0)
    XCTAssertEqual(try fs.read(fd, upToCount: 10), [0, 0, 0, 1, 2])
  }

  func testPwriteWithAppendAppendsAsOnLinux() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    let fd = try fs.open("/a", .readWrite, options: .append)
    XCTAssertEqual(try fs.pwrite(fd, bytes: [9], at: 0), 1)
    XCTAssertEqual(try fs.pread(fd, upToCount: 10, at: 0), [1, 2, 3, 9])
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 0, "pwrite leaves the offset")
  }

  func testPreadWithNegativeOffsetIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.pread(fd, upToCount: 1, at: -1) }
  }

  func testPwriteWithNegativeOffsetIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: -1) }
  }

  func testReadWithNegativeCountIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.read(fd, upToCount: -1) }
  }

  func testWriteBeyondMaximumFileSizeIsEFBIG() throws {
    let fs = try makeFS(maxFileSize: 100)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: [UInt8](repeating: 1, count: 100))
    assertErrno(.fileTooLarge) { () throws(Errno) in try fs.write(fd, bytes: [1]) }
    XCTAssertEqual(try fs.fstat(fd).size, 100, "a failed write changes nothing")
  }

  func testPwriteCrossingMaximumFileSizeWritesWhatFits() throws {
    let fs = try makeFS(maxFileSize: 100)
    let fd = try fs.open("/a", .readWrite, options: .create)
    XCTAssertEqual(try fs.pwrite(fd, bytes: [1, 2, 3], at: 98), 2, "Linux: a short write")
    XCTAssertEqual(try fs.fstat(fd).size, 100)
    XCTAssertEqual(try fs.pread(fd, upToCount: 5, at: 98), [1, 2])
  }

  func testPwriteAtOrPastMaximumFileSizeIsEFBIG() throws {
    let fs = try makeFS(maxFileSize: 100)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    assertErrno(.fileTooLarge) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: 100) }
    assertErrno(.fileTooLarge) { () throws(Errno) in try fs.pwrite(fd, bytes: [1], at: .max) }
    XCTAssertEqual(try fs.fstat(fd).size, 0)
  }

  func testWriteCrossingTheQuotaWritesTheWholePagesThatFit() throws {
    let page = PageAllocator.pageSize
    let fs = try makeFS(byteQuota: 2 * page)
    let fd = try fs.open("/a", .readWrite, options: .create)
    XCTAssertEqual(try fs.write(fd, bytes: [UInt8](repeating: 1, count: 3 * page)), 2 * page)
    XCTAssertEqual(try fs.fstat(fd).size, Int64(2 * page))
    XCTAssertEqual(fs.statistics.storedBytes, 2 * page)
  }

  func testWriteWithNoRoomLeftIsENOSPCAndChangesNothing() throws {
    let page = PageAllocator.pageSize
    let fs = try makeFS(byteQuota: 2 * page)
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: [UInt8](repeating: 1, count: 2 * page))
    assertErrno(.noSpace) { () throws(Errno) in try fs.write(fd, bytes: [1]) }
    XCTAssertEqual(try fs.fstat(fd).size, Int64(2 * page))
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), Int64(2 * page))
    XCTAssertEqual(fs.statistics.storedBytes, 2 * page)
  }

  func testOverwritingInsideTheFileNeedsNoRoom() throws {
    let page = PageAllocator.pageSize
    let fs = try makeFS(byteQuota: 2 * page)
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: [UInt8](repeating: 1, count: 2 * page - 10))
    XCTAssertEqual(try fs.pwrite(fd, bytes: [UInt8](repeating: 2, count: 20), at: 0), 20)
    XCTAssertEqual(try fs.pwrite(fd, bytes: [UInt8](repeating: 3, count: 20), at: Int64(2 * page - 15)), 15,
                   "the last page has room for 15 more bytes")
  }

  func testQuotaCountsCompressedFilesByStoredSize() throws {
    let fs = try makeFS(byteQuota: 30_000)
    try fs.put("/a", text(20_000))  // compresses to far less than 10 000 bytes
    XCTAssertLessThan(fs.statistics.storedBytes, 10_000)
    try fs.put("/b", text(15_000))  // would not fit if /a counted its logical size
    assertSameBytes(try fs.get("/b"), text(15_000))
  }

  func testWriteOfNothingDoesNotMoveTheAppendOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    let fd = try fs.open("/a", .writeOnly, options: .append)
    XCTAssertEqual(try fs.write(fd, bytes: []), 0)
    XCTAssertEqual(try fs.lseek(fd, offset: 0, from: .current), 0)
  }

  func testWriteOfNothingChangesNothing() throws {
    let fs = try makeFS()
    try fs.put("/a", text(9000))
    let fd = try fs.open("/a", .writeOnly)
    XCTAssertEqual(try fs.write(fd, bytes: []), 0)
    XCTAssertTrue(try fs.isCompressed("/a"))
  }
}
