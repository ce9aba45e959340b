import SystemPackage
import XCTest

@testable import ErmCore

final class RenameTests: XCTestCase {
  func testRenameMovesAFile() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.mkdir("/d")
    try fs.rename("/a", to: "/d/b")
    assertSameBytes(try fs.get("/d/b"), [1])
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/a") }
  }

  func testRenameKeepsTheInode() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    let inode = try fs.stat("/a").inode
    try fs.rename("/a", to: "/b")
    XCTAssertEqual(try fs.stat("/b").inode, inode)
  }

  func testRenameFileOverFileReplacesIt() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.put("/b", text(9000))
    try fs.rename("/a", to: "/b")
    assertSameBytes(try fs.get("/b"), [1])
    XCTAssertEqual(fs.statistics.files, 1)
    XCTAssertEqual(fs.statistics.logicalBytes, 1)
  }

  func testReplacedOpenFileStaysReadable() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.put("/b", [2, 2])
    let fd = try fs.open("/b", .readOnly)
    try fs.rename("/a", to: "/b")
    XCTAssertEqual(try fs.read(fd, upToCount: 5), [2, 2])
    XCTAssertEqual(try fs.fstat(fd).linkCount, 0)
  }

  func testRenameDirectoryMovesItsSubtree() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mkdir("/d/e")
    try fs.put("/d/e/f", [7])
    try fs.rename("/d", to: "/x")
    assertSameBytes(try fs.get("/x/e/f"), [7])
  }

  func testRenameDirectoryUpdatesParentLinkCounts() throws {
    let fs = try makeFS()
    try fs.mkdir("/p")
    try fs.mkdir("/q")
    try fs.mkdir("/p/d")
    try fs.rename("/p/d", to: "/q/d")
    XCTAssertEqual(try fs.stat("/p").linkCount, 2)
    XCTAssertEqual(try fs.stat("/q").linkCount, 3)
  }

  func testRenameDirectoryOverEmptyDirectoryReplacesIt() throws {
    let fs = try makeFS()
    try fs.mkdir("/a")
    try fs.put("/a/f", [1])
    try fs.mkdir("/b")
    try fs.rename("/a", to: "/b")
    assertSameBytes(try fs.get("/b/f"), [1])
    XCTAssertEqual(fs.statistics.directories, 1)
    XCTAssertEqual(try fs.stat("/").linkCount, 3)
  }

  func testRenameDirectoryOverNonEmptyDirectoryIsENOTEMPTY() throws {
    let fs = try makeFS()
    try fs.mkdir("/a")
    try fs.mkdir("/b")
    try fs.put("/b/f", [])
    assertErrno(.directoryNotEmpty) { () throws(Errno) in try fs.rename("/a", to: "/b") }
  }

  func testRenameDirectoryOverFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/a")
    try fs.put("/b", [])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.rename("/a", to: "/b") }
  }

  func testRenameFileOverDirectoryIsEISDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    try fs.mkdir("/b")
    assertErrno(.isDirectory) { () throws(Errno) in try fs.rename("/a", to: "/b") }
  }

  func testRenameDirectoryIntoItsOwnSubtreeIsEINVAL() throws {
    let fs = try makeFS()
    try fs.mkdir("/a")
    try fs.mkdir("/a/b")
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.rename("/a", to: "/a/b/c") }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.rename("/a", to: "/a/c") }
  }

  func testRenameToItselfIsANoOp() throws {
    let fs = try makeFS()
    try fs.put("/a", [5])
    try fs.rename("/a", to: "/./a")
    assertSameBytes(try fs.get("/a"), [5])
    XCTAssertEqual(fs.statistics.files, 1)
  }

  func testRenameOfAMissingSourceIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.rename("/a", to: "/b") }
  }

  func testRenameIntoAMissingDirectoryIsENOENT() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.rename("/a", to: "/x/b") }
  }

  func testRenameThroughAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [])
    try fs.put("/f", [])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.rename("/a", to: "/f/b") }
  }

  func testRenameOfTheRootIsEBUSY() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.rename("/", to: "/d/x") }
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.rename("/d", to: "/") }
  }

  func testOpenDescriptorFollowsARenamedFile() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .readWrite, options: .create)
    try fs.rename("/a", to: "/b")
    try fs.write(fd, bytes: [4, 2])
    try fs.close(fd)
    assertSameBytes(try fs.get("/b"), [4, 2])
  }
}
