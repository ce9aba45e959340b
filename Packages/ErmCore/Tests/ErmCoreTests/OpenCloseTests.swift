import SystemPackage
import XCTest

@testable import ErmCore

final class OpenCloseTests: XCTestCase {
  func testOpenWithCreateMakesAnEmptyFile() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: .create)
    XCTAssertEqual(try fs.fstat(fd).size, 0)
    XCTAssertEqual(try fs.stat("/a").type, .regular)
  }

  func testOpenMissingFileWithoutCreateIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.open("/missing", .readOnly) }
  }

  func testOpenExclusiveOnExistingFileIsEEXIST() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.fileExists) { () throws(Errno) in
      try fs.open("/a", .writeOnly, options: [.create, .exclusiveCreate])
    }
  }

  func testOpenExclusiveCreatesWhenMissing() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: [.create, .exclusiveCreate])
    try fs.close(fd)
    XCTAssertEqual(try fs.stat("/a").size, 0)
  }

  func testOpenWithTruncateEmptiesTheFile() throws {
    let fs = try makeFS()
    try fs.put("/a", text(10_000))
    let fd = try fs.open("/a", .readWrite, options: .truncate)
    XCTAssertEqual(try fs.fstat(fd).size, 0)
    try fs.close(fd)
    assertSameBytes(try fs.get("/a"), [])
  }

  func testDescriptorsAreLowestFreeNumberFirst() throws {
    let fs = try makeFS()
    let a = try fs.open("/a", .writeOnly, options: .create)
    let b = try fs.open("/b", .writeOnly, options: .create)
    let c = try fs.open("/c", .writeOnly, options: .create)
    XCTAssertEqual([a.rawValue, b.rawValue, c.rawValue], [0, 1, 2])
    try fs.close(b)
    XCTAssertEqual(try fs.open("/d", .writeOnly, options: .create).rawValue, 1)
    XCTAssertEqual(try fs.open("/e", .writeOnly, options: .create).rawValue, 3)
  }

  func testCloseTwiceIsEBADF() throws {
    let fs = try makeFS()
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.close(fd)
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.close(fd) }
  }

  func testCloseOfUnknownDescriptorIsEBADF() throws {
    let fs = try makeFS()
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.close(.init(rawValue: 7)) }
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.close(.init(rawValue: -1)) }
  }

  func testOpenBeyondDescriptorLimitIsEMFILE() throws {
    let fs = try makeFS(maxDescriptors: 3)
    for name in ["/a", "/b", "/c"] { _ = try fs.open(name, .writeOnly, options: .create) }
    assertErrno(.tooManyOpenFiles) { () throws(Errno) in
      try fs.open("/d", .writeOnly, options: .create)
    }
  }

  func testDescriptorFreedByCloseIsReusableAfterEMFILE() throws {
    let fs = try makeFS(maxDescriptors: 1)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    assertErrno(.tooManyOpenFiles) { () throws(Errno) in try fs.open("/a", .readOnly) }
    try fs.close(fd)
    XCTAssertEqual(try fs.open("/a", .readOnly).rawValue, 0)
  }

  func testEMFILEDoesNotLeakAnOpenReference() throws {
    let fs = try makeFS(maxDescriptors: 1)
    let fd = try fs.open("/a", .writeOnly, options: .create)
    try fs.write(fd, bytes: text(5000))
    assertErrno(.tooManyOpenFiles) { () throws(Errno) in try fs.open("/a", .readOnly) }
    try fs.close(fd)
    XCTAssertTrue(try fs.isCompressed("/a"), "the failed open must not keep the file open")
  }

  func testEMFILENeitherCreatesNorTruncates() throws {
    let fs = try makeFS(maxDescriptors: 1)
    try fs.put("/a", [1, 2, 3])
    _ = try fs.open("/b", .readOnly, options: .create)
    assertErrno(.tooManyOpenFiles) { () throws(Errno) in
      try fs.open("/a", .writeOnly, options: [.create, .truncate])
    }
    assertErrno(.tooManyOpenFiles) { () throws(Errno) in try fs.open("/c", .writeOnly, options: .create) }
    XCTAssertEqual(try fs.stat("/a").size, 3)
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/c") }
  }

  func testOpenDirectoryForWritingIsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/d", .writeOnly) }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/d", .readWrite) }
  }

  func testOpenDirectoryWithCreateIsEISDIR() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/d", .readOnly, options: .create) }
  }

  func testOpenDirectoryReadOnlyWithTruncateIsEISDIR() throws {
    // Linux: O_TRUNC asks for write access (build_open_flags), and a directory refuses it.
    let fs = try makeFS()
    try fs.mkdir("/d")
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/d", .readOnly, options: .truncate) }
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open("/", .readOnly, options: .truncate) }
    XCTAssertEqual(fs.statistics.openDescriptors, 0)
  }

  func testOpenWithCreateAndDirectoryIsEINVALAndCreatesNothing() throws {
    // Linux 6.4+: O_CREAT | O_DIRECTORY is refused before the name is looked at.
    let fs = try makeFS()
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.open("/new", .readOnly, options: [.create, .directory])
    }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.stat("/new") }
    XCTAssertEqual(fs.statistics.files, 0)
  }

  func testOpenDirectoryReadOnlySucceeds() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    let fd = try fs.open("/d", .readOnly)
    XCTAssertEqual(try fs.fstat(fd).type, .directory)
  }

  func testOpenWithDirectoryOptionOnAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.open("/a", .readOnly, options: .directory) }
  }

  func testOpenThroughAFileIsENOTDIR() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    assertErrno(.notDirectory) { () throws(Errno) in try fs.open("/a/b", .readOnly, options: .create) }
  }

  func testOpenInMissingDirectoryIsENOENT() throws {
    let fs = try makeFS()
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.open("/nope/b", .writeOnly, options: .create)
    }
  }

  func testOpenWithInvalidAccessModeIsEINVAL() throws {
    let fs = try makeFS()
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.open("/a", .init(rawValue: 3), options: .create)
    }
  }

  func testOpenRootWithExclusiveCreateIsEEXIST() throws {
    let fs = try makeFS()
    assertErrno(.fileExists) { () throws(Errno) in
      try fs.open("/", .readOnly, options: [.create, .exclusiveCreate])
    }
  }

  func testCreatedFileGetsRequestedPermissions() throws {
    let fs = try makeFS()
    _ = try fs.open("/a", .writeOnly, options: .create, permissions: [.ownerReadWrite])
    XCTAssertEqual(try fs.stat("/a").permissions, [.ownerReadWrite])
    XCTAssertEqual(try fs.stat("/a").mode.rawValue, 0o100600)
  }

  func testInvalidConfigurationIsEINVAL() throws {
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(maxDescriptors: 0))
    }
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(byteQuota: -1))
    }
    assertErrno(.invalidArgument) { () throws(Errno) in
      try ErmFS(configuration: .init(chunkSize: 1))
    }
  }
}
