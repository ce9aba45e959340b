import SystemPackage
import XCTest

@testable import ErmCore

final class StatTests: XCTestCase {
  func testStatOfAFileReportsRegularTypeAndOneLink() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2, 3])
    let status = try fs.stat("/a")
    XCTAssertEqual(status.type, .regular)
    XCTAssertEqual(status.mode.rawValue & 0o170000, 0o100000)
    XCTAssertEqual(status.linkCount, 1)
    XCTAssertEqual(status.size, 3)
  }

  func testStatOfTheRootIsADirectory() throws {
    let fs = try makeFS()
    let status = try fs.stat("/")
    XCTAssertEqual(status.type, .directory)
    XCTAssertEqual(status.mode.rawValue & 0o170000, 0o040000)
    XCTAssertEqual(status.linkCount, 2)
  }

  func testDirectoryLinkCountCountsSubdirectories() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mkdir("/d/x")
    try fs.mkdir("/d/y")
    try fs.put("/d/file", [1])
    XCTAssertEqual(try fs.stat("/d").linkCount, 4)
    try fs.rmdir("/d/x")
    XCTAssertEqual(try fs.stat("/d").linkCount, 3)
  }

  func testInodeNumbersAreDistinct() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    try fs.put("/b", [])
    try fs.mkdir("/c")
    let numbers = Set(try ["/", "/a", "/b", "/c"].map { (path) throws(Errno) in try fs.stat(path).inode })
    XCTAssertEqual(numbers.count, 4)
  }

  func testFstatMatchesStat() throws {
    let fs = try makeFS()
    try fs.put("/a", text(5000))
    let fd = try fs.open("/a", .readOnly)
    XCTAssertEqual(try fs.fstat(fd), try fs.stat("/a"))
  }

  func testFstatOfAClosedDescriptorIsEBADF() throws {
    let fs = try makeFS()
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.fstat(.init(rawValue: 0)) }
  }

  func testStatOfAMissingPathIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/nope") }
  }

  func testStatThroughAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.stat("/a/b") }
  }

  func testStatOfAFileWithTrailingSlashIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.stat("/a/") }
  }

  func testWriteUpdatesModificationAndChangeTime() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.utimens("/a", access: .set(.init(seconds: 1)), modification: .set(.init(seconds: 1)))
    let fd = try fs.open("/a", .writeOnly)
    try fs.write(fd, bytes: [2])
    let status = try fs.fstat(fd)
    XCTAssertGreaterThan(status.modificationTime, .init(seconds: 1))
    XCTAssertEqual(status.accessTime, .init(seconds: 1))
  }

  func testReadUpdatesAccessTime() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.utimens("/a", access: .set(.init(seconds: 1)), modification: .omit)
    let fd = try fs.open("/a", .readOnly)
    _ = try fs.read(fd, upToCount: 1)
    XCTAssertGreaterThan(try fs.fstat(fd).accessTime, .init(seconds: 1))
  }

  func testChmodChangesPermissionsAndKeepsType() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.chmod("/d", permissions: [.ownerRead, .ownerExecute])
    XCTAssertEqual(try fs.stat("/d").mode.rawValue, 0o040500)
  }

  func testChmodOfAMissingPathIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.chmod("/x", permissions: []) }
  }

  func testUtimensSetsGivenTimes() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.utimens("/a", access: .set(.init(seconds: 10, nanoseconds: 5)),
                   modification: .set(.init(seconds: 20, nanoseconds: 7)))
    let status = try fs.stat("/a")
    XCTAssertEqual(status.accessTime, .init(seconds: 10, nanoseconds: 5))
    XCTAssertEqual(status.modificationTime, .init(seconds: 20, nanoseconds: 7))
  }

  func testUtimensOmitLeavesTheTime() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.utimens("/a", access: .set(.init(seconds: 10)), modification: .set(.init(seconds: 20)))
    try fs.utimens("/a", access: .omit, modification: .set(.init(seconds: 30)))
    XCTAssertEqual(try fs.stat("/a").accessTime, .init(seconds: 10))
  }

  func testUtimensNowUsesTheCurrentTime() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.utimens("/a", access: .set(.init(seconds: 10)), modification: .set(.init(seconds: 20)))
    try fs.utimens("/a")
    XCTAssertGreaterThan(try fs.stat("/a").modificationTime.seconds, 1_600_000_000)
  }

  func testUtimensWithBadNanosecondsIsEINVAL() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.utimens("/a", access: .set(.init(seconds: 0, nanoseconds: 1_000_000_000)))
    }
  }

  func testUtimensOfAMissingPathIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.utimens("/x") }
  }
}
