import ErmAlloc
import SystemPackage
import XCTest

@testable import ErmCore

/// Symbolic and hard links, owners, special files, extended attributes, times, statfs,
/// fallocate and SEEK_DATA/SEEK_HOLE through the path API.
final class LinkAndMetadataTests: XCTestCase {
  // MARK: Symbolic links

  func testSymbolicLinksAreFollowedInTheMiddleAndAtTheEnd() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.put("/d/f", [1, 2, 3])
    try fs.symlink("/d", at: "/abs")
    try fs.symlink("d/f", at: "/rel")
    XCTAssertEqual(try fs.get("/abs/f"), [1, 2, 3])
    XCTAssertEqual(try fs.get("/rel"), [1, 2, 3])
    XCTAssertEqual(try fs.stat("/rel").type, .regular)
    XCTAssertEqual(try fs.lstat("/rel").type, .symbolicLink)
    XCTAssertEqual(try fs.lstat("/rel").size, 3)
    XCTAssertEqual(try fs.readlink("/rel"), "d/f")
    XCTAssertEqual(try fs.stat("/abs/..").inode, try fs.stat("/").inode, "`..` of the target, not of the link")
  }

  func testARelativeLinkResolvesFromItsOwnDirectory() throws {
    let fs = try makeFS()
    try fs.mkdir("/a")
    try fs.mkdir("/a/b")
    try fs.put("/a/x", [7])
    try fs.symlink("../x", at: "/a/b/up")
    XCTAssertEqual(try fs.get("/a/b/up"), [7])
  }

  func testLinkLoopsAreELOOP() throws {
    let fs = try makeFS()
    try fs.symlink("/b", at: "/a")
    try fs.symlink("/a", at: "/b")
    assertErrno(.tooManySymbolicLinkLevels) { () throws(Errno) in try fs.stat("/a") }
    assertErrno(.tooManySymbolicLinkLevels) { () throws(Errno) in try fs.open("/a/x", .readOnly) }
    XCTAssertEqual(try fs.lstat("/a").type, .symbolicLink)
  }

  func testFortyLinksResolveAndFortyOneAreELOOP() throws {
    let fs = try makeFS()
    try fs.put("/target", [1])
    try fs.symlink("/target", at: "/l0")
    for i in 1...40 { try fs.symlink("/l\(i - 1)", at: "/l\(i)") }
    XCTAssertEqual(try fs.get("/l39"), [1], "40 links followed")
    assertErrno(.tooManySymbolicLinkLevels) { () throws(Errno) in try fs.stat("/l40") }
  }

  func testOpenCreateThroughADanglingLinkCreatesItsTarget() throws {
    let fs = try makeFS()
    try fs.symlink("/made", at: "/dangling")
    let fd = try fs.open("/dangling", .writeOnly, options: .create)
    try fs.write(fd, bytes: [4])
    try fs.close(fd)
    XCTAssertEqual(try fs.get("/made"), [4])
    assertErrno(.fileExists) { () throws(Errno) in
      try fs.open("/dangling", .writeOnly, options: [.create, .exclusiveCreate])
    }
  }

  func testNoFollowOnALinkIsELOOP() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    try fs.symlink("/f", at: "/l")
    assertErrno(.tooManySymbolicLinkLevels) { () throws(Errno) in try fs.open("/l", .readOnly, options: .noFollow) }
  }

  func testReadlinkOfAFileIsEINVALAndAnEmptyTargetIsENOENT() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.readlink("/f") }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.symlink("", at: "/l") }
    assertErrno(.fileExists) { () throws(Errno) in try fs.symlink("x", at: "/f") }
  }

  // MARK: Hard links

  func testHardLinksShareTheInodeAndTheDataLiveUntilTheLastName() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    try fs.put("/a", text(8000))
    try fs.link("/a", to: "/b")
    XCTAssertEqual(try fs.stat("/a").inode, try fs.stat("/b").inode)
    XCTAssertEqual(try fs.stat("/a").linkCount, 2)
    XCTAssertEqual(fs.statistics.files, 1, "one inode, two names")
    try fs.unlink("/a")
    assertSameBytes(try fs.get("/b"), text(8000))
    try fs.unlink("/b")
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }

  func testLinkErrors() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.put("/f", [1])
    assertErrno(.notPermitted) { () throws(Errno) in try fs.link("/d", to: "/x") }
    assertErrno(.fileExists) { () throws(Errno) in try fs.link("/f", to: "/d") }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.link("/missing", to: "/x") }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.link("/f", to: "/x/") }
    assertErrno(.notDirectory) { () throws(Errno) in try fs.link("/f/", to: "/x") }
  }

  func testRenameBetweenTwoNamesOfOneInodeDoesNothing() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.link("/a", to: "/b")
    try fs.rename("/a", to: "/b")
    XCTAssertEqual(try fs.stat("/a").linkCount, 2, "POSIX: both names stay")
  }

  // MARK: Owners and special files

  func testChownClearsSetuidAndSetgidWithGroupExecute() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    try fs.chmod("/f", permissions: FilePermissions(rawValue: 0o6755))
    try fs.chown("/f", userID: 1000, groupID: nil)
    XCTAssertEqual(try fs.stat("/f").permissions.rawValue, 0o755)
    XCTAssertEqual(try fs.stat("/f").userID, 1000)
    try fs.chmod("/f", permissions: FilePermissions(rawValue: 0o2745))
    try fs.chown("/f", userID: nil, groupID: nil)
    XCTAssertEqual(try fs.stat("/f").permissions.rawValue, 0o2745, "setgid without group execute stays")
    try fs.mkdir("/d", permissions: FilePermissions(rawValue: 0o755))
    try fs.chmod("/d", permissions: FilePermissions(rawValue: 0o6755))
    try fs.chown("/d", userID: 5, groupID: 5)
    XCTAssertEqual(try fs.stat("/d").permissions.rawValue, 0o6755, "directories keep theirs")
  }

  func testLchownChangesTheLinkNotTheTarget() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    try fs.symlink("/f", at: "/l")
    try fs.chown("/l", userID: 9, groupID: 9, followLast: false)
    XCTAssertEqual(try fs.lstat("/l").userID, 9)
    XCTAssertEqual(try fs.stat("/l").userID, fs.configuration.owner.userID)
  }

  func testMknodMakesSpecialFilesThatCannotBeOpenedThroughTheLibrary() throws {
    let fs = try makeFS()
    try fs.mknod("/fifo", type: .fifo, permissions: [.ownerReadWrite])
    try fs.mknod("/null", type: .characterSpecial, permissions: [.ownerReadWrite], device: 0x0103)
    XCTAssertEqual(try fs.stat("/fifo").type, .fifo)
    XCTAssertEqual(try fs.stat("/null").device, 0x0103)
    assertErrno(.noSuchAddressOrDevice) { () throws(Errno) in try fs.open("/fifo", .readOnly) }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.mknod("/x", type: .directory, permissions: []) }
    XCTAssertEqual(try fs.readdir("/").map(\.type), [.fifo, .characterSpecial])
  }

  // MARK: Extended attributes

  func testExtendedAttributesFollowTmpfsRules() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    try fs.setExtendedAttribute("user.a", [1, 2], at: "/f")
    try fs.setExtendedAttribute("trusted.b", [3], at: "/f")
    XCTAssertEqual(try fs.extendedAttribute("user.a", at: "/f"), [1, 2])
    XCTAssertEqual(try fs.extendedAttributeNames(at: "/f"), ["user.a", "trusted.b"])
    XCTAssertEqual(try fs.extendedAttributeNames(at: "/f", privileged: false), ["user.a"])
    assertErrno(.fileExists) { () throws(Errno) in try fs.setExtendedAttribute("user.a", [], at: "/f", flags: .create) }
    assertErrno(.noData) { () throws(Errno) in try fs.setExtendedAttribute("user.z", [], at: "/f", flags: .replace) }
    assertErrno(.noData) { () throws(Errno) in try fs.extendedAttribute("user.z", at: "/f") }
    assertErrno(.noData) { () throws(Errno) in try fs.extendedAttribute("trusted.b", at: "/f", privileged: false) }
    assertErrno(.notPermitted) { () throws(Errno) in
      try fs.setExtendedAttribute("trusted.c", [], at: "/f", privileged: false)
    }
    assertErrno(.outOfRange) { () throws(Errno) in
      try fs.setExtendedAttribute("user." + String(repeating: "n", count: 251), [], at: "/f")
    }
    assertErrno(.argListTooLong) { () throws(Errno) in
      try fs.setExtendedAttribute("user.big", [UInt8](repeating: 0, count: 65537), at: "/f")
    }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.setExtendedAttribute("user.", [], at: "/f") }
    assertErrno(.notSupported) { () throws(Errno) in try fs.setExtendedAttribute("other.x", [], at: "/f") }
    assertErrno(.notSupported) { () throws(Errno) in try fs.extendedAttribute("system.posix_acl_access", at: "/f") }
    try fs.symlink("/f", at: "/l")
    try fs.removeExtendedAttribute("user.a", at: "/f")
    assertErrno(.noData) { () throws(Errno) in try fs.removeExtendedAttribute("user.a", at: "/f") }
  }

  func testAttributeValueBufferSizesByInode() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    let inode = ErmFS.InodeNumber(rawValue: try fs.lookup(in: .root, named: "f").inode)
    try fs.setAttribute(Array("user.k".utf8), [1, 2, 3], of: inode, flags: [], privileged: true)
    XCTAssertEqual(try fs.attributeValue(Array("user.k".utf8), of: inode, size: 0, privileged: true).count, 3)
    assertErrno(.outOfRange) { () throws(Errno) in
      try fs.attributeValue(Array("user.k".utf8), of: inode, size: 2, privileged: true)
    }
    XCTAssertEqual(try fs.attributeNames(of: inode, size: 0, privileged: true), Array("user.k\0".utf8))
    assertErrno(.outOfRange) { () throws(Errno) in try fs.attributeNames(of: inode, size: 3, privileged: true) }
  }

  // MARK: Times

  func testTimesFarPastTwentyTwoSixtyTwoReadBackExactly() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    let far = ErmFS.Timestamp(seconds: 10_000_000_000, nanoseconds: 123)
    let before = ErmFS.Timestamp(seconds: -1, nanoseconds: 999_999_999)
    try fs.utimens("/f", access: .set(before), modification: .set(far))
    XCTAssertEqual(try fs.stat("/f").modificationTime, far)
    XCTAssertEqual(try fs.stat("/f").accessTime, before)
  }

  func testUtimensChecksInTheKernelsOrder() throws {
    let fs = try makeFS()
    let bad = ErmFS.TimeUpdate.set(.init(seconds: 1, nanoseconds: 1_000_000_000))
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.utimens("/missing", access: bad) }
    try fs.utimens("/missing", access: .omit, modification: .omit)  // no lookup at all
    try fs.put("/f", [1])
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.utimens("/f", access: bad) }
  }

  func testTruncateToTheSameSizeAndOpenTruncateOfAnEmptyFileSetTheTimes() throws {
    let fs = try makeFS()
    try fs.put("/f", [1, 2])
    let old = ErmFS.Timestamp(seconds: 1000)
    try fs.utimens("/f", access: .omit, modification: .set(old))
    let fd = try fs.open("/f", .writeOnly)
    try fs.ftruncate(fd, to: 2)
    XCTAssertGreaterThan(try fs.stat("/f").modificationTime, old)
    try fs.ftruncate(fd, to: 0)
    try fs.close(fd)
    try fs.utimens("/f", access: .omit, modification: .set(old))
    let changeBefore = try fs.stat("/f").changeTime
    try fs.close(try fs.open("/f", .writeOnly, options: .truncate))
    XCTAssertGreaterThan(try fs.stat("/f").modificationTime, old)
    XCTAssertGreaterThanOrEqual(try fs.stat("/f").changeTime, changeBefore)
  }

  func testReadsMoveTheAccessTimeByTheRelatimeRule() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    let old = ErmFS.Timestamp(seconds: 1000)
    try fs.utimens("/f", access: .set(old), modification: .set(ErmFS.Timestamp(seconds: 2000)))
    _ = try fs.get("/f")
    XCTAssertGreaterThan(try fs.stat("/f").accessTime, old, "atime older than mtime: updated")
    let future = ErmFS.Timestamp(seconds: 10_000_000_000)
    try fs.utimens("/f", access: .set(future), modification: .omit)
    _ = try fs.get("/f")
    XCTAssertEqual(try fs.stat("/f").accessTime, future, "newer than mtime and ctime, less than a day ago")
  }

  // MARK: Space

  func testStatfsReportsTheQuotaInPages() throws {
    let page = PageAllocator.pageSize
    let fs = try makeFS(byteQuota: 100 * page)
    try fs.put("/f", noise(10 * page))
    let status = fs.statfs()
    XCTAssertEqual(status.blockSize, page)
    XCTAssertEqual(status.blocks, 100)
    XCTAssertEqual(status.freeBlocks, UInt64(100 - fs.statistics.storedBytes / page))
    XCTAssertEqual(status.maximumNameLength, 255)
  }

  func testFallocateGrowsKeepsSizeAndPunchesHoles() throws {
    let fs = try makeFS()
    let fd = try fs.open("/f", .readWrite, options: .create)
    try fs.write(fd, bytes: [UInt8](repeating: 9, count: 10_000))
    try fs.fallocate(fd, offset: 0, length: 20_000)
    XCTAssertEqual(try fs.fstat(fd).size, 20_000)
    try fs.fallocate(fd, mode: .keepSize, offset: 0, length: 50_000)
    XCTAssertEqual(try fs.fstat(fd).size, 20_000)
    try fs.fallocate(fd, mode: [.punchHole, .keepSize], offset: 100, length: 9000)
    let bytes = try fs.pread(fd, upToCount: 10_000, at: 0)
    XCTAssertEqual(Array(bytes[0..<100]), [UInt8](repeating: 9, count: 100))
    XCTAssertEqual(Array(bytes[100..<9100]), [UInt8](repeating: 0, count: 9000))
    XCTAssertEqual(Array(bytes[9100...]), [UInt8](repeating: 9, count: 900))
    assertErrno(.notSupported) { () throws(Errno) in try fs.fallocate(fd, mode: .punchHole, offset: 0, length: 1) }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.fallocate(fd, offset: 0, length: 0) }
    let readOnly = try fs.open("/f", .readOnly)
    assertErrno(.badFileDescriptor) { () throws(Errno) in try fs.fallocate(readOnly, offset: 0, length: 1) }
  }

  func testSeekDataAndHoleSeeTheWholeFileAsData() throws {
    let fs = try makeFS()
    try fs.put("/f", [UInt8](repeating: 1, count: 5000))
    let fd = try fs.open("/f", .readOnly)
    let data = FileDescriptor.SeekOrigin(rawValue: SeekWhence.data)
    let hole = FileDescriptor.SeekOrigin(rawValue: SeekWhence.hole)
    XCTAssertEqual(try fs.lseek(fd, offset: 10, from: data), 10)
    XCTAssertEqual(try fs.lseek(fd, offset: 10, from: hole), 5000)
    assertErrno(.noSuchAddressOrDevice) { () throws(Errno) in try fs.lseek(fd, offset: 5000, from: data) }
    assertErrno(.noSuchAddressOrDevice) { () throws(Errno) in try fs.lseek(fd, offset: -1, from: hole) }
    let directory = try fs.open("/", .readOnly)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.lseek(directory, offset: 0, from: .end) }
  }
}
