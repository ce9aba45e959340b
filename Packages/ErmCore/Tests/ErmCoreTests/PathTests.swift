import SystemPackage
import XCTest

@testable import ErmCore

final class PathTests: XCTestCase {
  func testDotAndDotDotAndRepeatedSlashesAreWalked() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mkdir("/d/x")
    try fs.put("//d/./x/../f", [3])
    assertSameBytes(try fs.get("/d/f"), [3])
  }

  func testDotDotAfterAMissingComponentIsENOENT() throws {
    // Linux walks `..` in the tree: the missing component fails first.
    let fs = try makeFS()
    try fs.put("/f", [1])
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/missing/../f") }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.open("/nope/../g", .writeOnly, options: .create)
    }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/g") }
  }

  func testDotDotAfterAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.stat("/f/..") }
    assertErrno(.notDirectory) { () throws(Errno) in try fs.stat("/f/.") }
    assertErrno(.notDirectory) { () throws(Errno) in try fs.mkdir("/f/.") }
  }

  func testCreateWithATrailingSlashIsEISDIR() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/f/", .writeOnly, options: .create) }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/new/", .writeOnly, options: .create) }
  }

  func testALastDotAfterAMissingComponentIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.mkdir("/missing/.") }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.open("/c/.", .readOnly, options: .create)
    }
    try fs.mkdir("/d")
    assertErrno(.fileExists) { () throws(Errno) in try fs.mkdir("/d/.") }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/d/.", .readOnly, options: .create) }
  }

  func testPathOf4096BytesIsENAMETOOLONGAnd4095IsWalked() throws {
    let fs = try makeFS()
    let long = "/" + String(repeating: "a/", count: 2047) + "b"  // 4096 bytes
    assertErrno(.fileNameTooLong) { () throws(Errno) in try fs.stat(long) }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat(String(long.dropLast(2))) }
  }

  func testDotDotOfTheRootIsTheRoot() throws {
    let fs = try makeFS()
    try fs.put("/../../a", [1])
    assertSameBytes(try fs.get("/a"), [1])
    XCTAssertEqual(try fs.stat("/..").inode, try fs.stat("/").inode)
  }

  func testEmptyPathIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("") }
  }

  func testRelativePathIsEINVAL() throws {
    let fs = try makeFS()
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.open("a", .readOnly, options: .create) }
  }

  func testEmbeddedNulIsEINVAL() throws {
    let fs = try makeFS()
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.open("/a\0b", .readOnly, options: .create) }
  }

  func testComponentOf256BytesIsENAMETOOLONG() throws {
    let fs = try makeFS()
    let name = String(repeating: "n", count: 256)
    assertErrno(.fileNameTooLong) { () throws(Errno) in try fs.open("/" + name, .readOnly, options: .create) }
  }

  func testComponentOf255BytesIsAccepted() throws {
    let fs = try makeFS()
    let name = String(repeating: "n", count: 255)
    try fs.put("/" + name, [1])
    XCTAssertEqual(try fs.readdir("/").map(\.name), [name])
  }

  func testPathOver4096BytesIsENAMETOOLONG() throws {
    let fs = try makeFS()
    let path = String(repeating: "/abcdefg", count: 513)  // 4104 bytes
    assertErrno(.fileNameTooLong) { () throws(Errno) in try fs.stat(path) }
  }

  func testMultibyteNamesRoundTrip() throws {
    let fs = try makeFS()
    try fs.put("/grüße-日本", [1])
    XCTAssertEqual(try fs.readdir("/").map(\.name), ["grüße-日本"])
  }

  func testFileFollowedByDotIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.stat("/a/.") }
  }

  func testRmdirOfAPathEndingInDotIsEINVAL() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.rmdir("/d/.") }
    XCTAssertEqual(try fs.stat("/d").type, .directory)
  }

  func testRenameOfAPathEndingInDotIsEBUSY() throws {
    // Linux (do_renameat2): a last component that is not a name is EBUSY on either side.
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mkdir("/e")
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.rename("/d/.", to: "/x") }
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.rename("/d", to: "/e/.") }
    assertErrno(.fileExists) { () throws(Errno) in try fs.rename("/d", to: "/e/..", flags: .noReplace) }
  }

  func testCanonicallyEquivalentNamesAreDistinctFiles() throws {
    // Linux names are bytes: U+00E9 and "e" + U+0301 are two names, as on ext4 or tmpfs.
    let fs = try makeFS()
    let composed = "/caf\u{E9}"
    let decomposed = "/cafe\u{301}"
    try fs.put(composed, Array("one".utf8))
    let fd = try fs.open(decomposed, .writeOnly, options: [.create, .exclusiveCreate])
    try fs.close(fd)
    XCTAssertEqual(try fs.readdir("/").count, 2)
    XCTAssertEqual(try fs.stat(composed).size, 3)
    XCTAssertEqual(try fs.stat(decomposed).size, 0)
  }
}
