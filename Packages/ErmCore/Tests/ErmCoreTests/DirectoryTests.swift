import SystemPackage
import XCTest

@testable import ErmCore

final class DirectoryTests: XCTestCase {
  func testMkdirCreatesAnEmptyDirectory() throws {
    let fs = try makeFS()
    try fs.mkdir("/d", permissions: [.ownerReadWriteExecute])
    XCTAssertEqual(try fs.stat("/d").mode.rawValue, 0o040700)
    XCTAssertEqual(try fs.readdir("/d"), [])
  }

  func testMkdirOfAnExistingNameIsEEXIST() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    assertErrno(.fileExists) { () throws(Errno) in try fs.mkdir("/a") }
    assertErrno(.fileExists) { () throws(Errno) in try fs.mkdir("/") }
  }

  func testMkdirWithoutParentIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.mkdir("/x/y") }
  }

  func testMkdirUnderAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.mkdir("/a/y") }
  }

  func testReaddirListsEntriesSortedWithTypes() throws {
    let fs = try makeFS()
    try fs.put("/b", [])
    try fs.mkdir("/a")
    try fs.put("/c", [])
    let entries = try fs.readdir("/")
    XCTAssertEqual(entries.map(\.name), ["a", "b", "c"])
    XCTAssertEqual(entries.map(\.type), [.directory, .regular, .regular])
    XCTAssertEqual(entries[1].inode, try fs.stat("/b").inode)
  }

  func testReaddirOfAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.readdir("/a") }
  }

  func testReaddirOfAMissingDirectoryIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.readdir("/x") }
  }

  func testRmdirRemovesAnEmptyDirectory() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.rmdir("/d")
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/d") }
  }

  func testRmdirOfANonEmptyDirectoryIsENOTEMPTY() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.put("/d/f", [])
    assertErrno(.directoryNotEmpty) { () throws(Errno) in try fs.rmdir("/d") }
  }

  func testRmdirOfAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.rmdir("/a") }
  }

  func testRmdirOfTheRootIsEBUSY() throws {
    let fs = try makeFS()
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.rmdir("/") }
  }

  func testRmdirOfAPathEndingInDotDotIsENOTEMPTY() throws {
    // Linux refuses a last component `..` before looking at anything (do_rmdir).
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.directoryNotEmpty) { () throws(Errno) in try fs.rmdir("/..") }
    assertErrno(.directoryNotEmpty) { () throws(Errno) in try fs.rmdir("/d/..") }
  }

  func testRmdirOfAMissingDirectoryIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.rmdir("/x") }
  }

  func testUnlinkRemovesTheName() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.unlink("/a")
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/a") }
    XCTAssertEqual(fs.statistics.files, 0)
  }

  func testUnlinkOfAMissingFileIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.unlink("/a") }
  }

  func testUnlinkOfADirectoryIsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.isDirectory) { () throws(Errno) in try fs.unlink("/d") }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.unlink("/") }
  }

  func testUnlinkThroughAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.unlink("/a/b") }
  }

  func testUnlinkedOpenFileKeepsItsDataUntilLastClose() throws {
    let fs = try makeFS()
    try fs.put("/a", text(20_000))
    let fd = try fs.open("/a", .readWrite)
    try fs.unlink("/a")
    XCTAssertEqual(try fs.fstat(fd).linkCount, 0)
    assertSameBytes(try fs.pread(fd, upToCount: 20_000, at: 0), text(20_000))
    try fs.pwrite(fd, bytes: [1, 2, 3], at: 0)
    XCTAssertEqual(try fs.pread(fd, upToCount: 3, at: 0), [1, 2, 3])
    XCTAssertGreaterThan(fs.statistics.logicalBytes, 0)
    try fs.close(fd)
    XCTAssertEqual(fs.statistics.logicalBytes, 0)
    XCTAssertEqual(fs.statistics.storedBytes, 0)
  }

  func testUnlinkedFileNameCanBeReusedWhileOldFileIsOpen() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 1])
    let old = try fs.open("/a", .readOnly)
    try fs.unlink("/a")
    try fs.put("/a", [2])
    XCTAssertEqual(try fs.read(old, upToCount: 10), [1, 1])
    assertSameBytes(try fs.get("/a"), [2])
  }

  func testUnlinkOfAClosedFileFreesItsMemoryAtOnce() throws {
    let fs = try makeFS()
    try fs.put("/a", text(20_000))
    try fs.unlink("/a")
    XCTAssertEqual(fs.statistics.storedBytes, 0)
    XCTAssertEqual(fs.statistics.allocator.bytesLive, 0)
  }
}
