import SystemPackage
import XCTest

@testable import ErmCore

final class SeekTruncateTests: XCTestCase {
  func testSeekFromStartSetsTheOffset() throws {
    let fs = try makeFS()
    try fs.put("/a", Array(0..<10))
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.lseek(fd, offset: 6, from: .start), 6)
    XCTAssertEqual(try fs.read(fd, upToCount: 1), [6])
  }

  func testSeekFromCurrentMovesRelatively() throws {
    let fs = try makeFS()
    try fs.put("/a", Array(0..<10))
    let fd = try fs.open("/a", .readOnly)
    try fs.lseek(fd, offset: 4, from: .start)
    XCTAssertEqual(try fs.lseek(fd, offset: -2, from: .current), 2)
  }

  func testSeekFromEndUsesTheLogicalSize() throws {
    let fs = try makeFS()
    try fs.put("/a", text(10_000))
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.lseek(fd, offset: -1, from: .end), 9_999)
  }

  func testSeekPastTheEndIsAllowed() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readOnly, options: .create)
    XCTAssertEqual(try fs.lseek(fd, offset: 1 << 20, from: .start), 1 << 20)
    XCTAssertEqual(try fs.read(fd, upToCount: 1), [])
  }

  func testSeekToANegativeOffsetIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readOnly, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.lseek(fd, offset: -1, from: .start) }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.lseek(fd, offset: -1, from: .end) }
  }

  func testSeekWithUnknownOriginIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readOnly, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.lseek(fd, offset: 0, from: .init(rawValue: 42))
    }
  }

  func testSeekOverflowIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readOnly, options: .create)
    try fs.lseek(fd, offset: .max, from: .start)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.lseek(fd, offset: 1, from: .current) }
  }

  func testSeekOnAClosedDescriptorIsEBADF() throws {
    let fs = try makeFS()
    assertErrno(.badFileDescriptor) { () throws(Errno) in
      try fs.lseek(.init(rawValue: 3), offset: 0, from: .start)
    }
  }

  func testTruncateShrinksTheFile() throws {
    let fs = try makeFS()
    try fs.put("/a", text(10_000))
    let fd = try fs.open("/a", .readWrite)
    try fs.ftruncate(fd, to: 5000)
    try fs.close(fd)
    assertSameBytes(try fs.get("/a"), Array(text(10_000).prefix(5000)))
  }

  func testTruncateGrowsWithZeros() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2])
    let fd = try fs.open("/a", .readWrite)
    try fs.ftruncate(fd, to: 5)
    try fs.close(fd)
    assertSameBytes(try fs.get("/a"), [1, 2, 0, 0, 0])
  }

  func testTruncateThenGrowDoesNotResurrectOldBytes() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.write(fd, bytes: [1, 2, 3, 4])
    try fs.ftruncate(fd, to: 1)
    try fs.ftruncate(fd, to: 4)
    XCTAssertEqual(try fs.pread(fd, upToCount: 4, at: 0), [1, 0, 0, 0])
  }

  func testTruncateToNegativeSizeIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.ftruncate(fd, to: -1) }
  }

  func testTruncateOfAReadOnlyDescriptorIsEINVAL() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readOnly, options: .create)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.ftruncate(fd, to: 0) }
  }

  func testTruncateBeyondMaximumFileSizeIsEFBIG() throws {
    let fs = try makeFS(maxFileSize: 10)
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.fileTooLarge) { () throws(Errno) in try fs.ftruncate(fd, to: 11) }
  }

  func testTruncateBeyondQuotaIsENOSPC() throws {
    let fs = try makeFS(byteQuota: 10)
    let fd = try fs.open("/a", .readWrite, options: .create)
    assertErrno(.noSpace) { () throws(Errno) in try fs.ftruncate(fd, to: 11) }
    XCTAssertEqual(fs.statistics.storedBytes, 0)
  }

  func testShrinkingACompressedFileNeedsQuotaOnlyForWhatStays() throws {
    // Shrinking frees space: it must not first need room for the whole decompressed file.
    let fs = try makeFS(byteQuota: 3 << 19)
    let bytes = text(1 << 20)
    try fs.put("/a", bytes)
    try fs.put("/b", noise(1 << 20))  // now less than /a's logical size is free
    let storedOfB = try fs.stat("/b").storedSize
    let fd = try fs.open("/a", .readWrite)
    try fs.ftruncate(fd, to: 100)
    XCTAssertEqual(try fs.pread(fd, upToCount: 200, at: 0), Array(bytes.prefix(100)))
    XCTAssertEqual(fs.statistics.logicalBytes, 100 + (1 << 20))
    XCTAssertEqual(fs.statistics.storedBytes, pages(100) + Int(storedOfB))
    try fs.close(fd)
    XCTAssertEqual(try fs.get("/a"), Array(bytes.prefix(100)))
  }

  func testTruncateOfAClosedDescriptorIsEBADF() throws {
    let fs = try makeFS()
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.ftruncate(.init(rawValue: 0), to: 0) }
  }
}
