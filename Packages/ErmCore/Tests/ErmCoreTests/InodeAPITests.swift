import ErmAlloc
import SystemPackage
import XCTest

@testable import ErmCore

/// The inode-addressed front door (what the FUSE adapter calls).
final class InodeAPITests: XCTestCase {
  let me = Ownership(userID: 1000, groupID: 100)

  func testLookupFindsAnEntryAndCountsAKernelReference() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2])
    let status = try fs.lookup(in: .root, named: "a")
    XCTAssertEqual(status.size, 2)
    XCTAssertEqual(fs.rememberedInodeCount, 2, "root and /a")
    XCTAssertEqual(try fs.status(of: .init(rawValue: status.inode)).size, 2)
    fs.forget(.init(rawValue: status.inode), count: 1)
    XCTAssertEqual(fs.rememberedInodeCount, 1)
    assertErrno(.staleNFSFileHandle) { () throws(Errno) in try fs.status(of: .init(rawValue: status.inode)) }
  }

  /// The kernel looks up many files once and forgets them: the inode table gives its
  /// slots back (it kept room for all of them: 8 MiB per 100k files in the daemon), and
  /// a directory that held many entries gives its buckets back when they go.
  func testTablesShrinkAfterManyLookupsAndRemovals() throws {
    let fs = try makeFS()
    let directory = try fs.makeDirectory(in: .root, named: "d", permissions: [.ownerReadWriteExecute], owner: me)
    let parent = ErmFS.InodeNumber(rawValue: directory.inode)
    let files = 5_000
    for i in 0..<files {
      let made = try fs.makeNode(in: parent, named: FileName("f\(i)"), type: .regular,
                                 permissions: [.ownerReadWrite], owner: me)
      fs.forget(.init(rawValue: made.inode), count: 1)
      _ = try fs.lookup(in: parent, named: FileName("f\(i)"))
    }
    XCTAssertEqual(fs.inodes.count, files + 2)
    XCTAssertGreaterThanOrEqual(fs.inodes.capacity, 8_192)
    for i in 0..<files {
      let status = try fs.lookup(in: parent, named: FileName("f\(i)"))
      fs.forget(.init(rawValue: status.inode), count: 2)
      if i >= 10 { try fs.unlink(in: parent, named: FileName("f\(i)")) }
    }
    XCTAssertEqual(fs.inodes.count, 2)  // the root and the directory
    XCTAssertLessThanOrEqual(fs.inodes.capacity, 1024)
    XCTAssertEqual(try fs.readdir("/d").count, 10)
  }

  /// A directory's entry table gives its buckets back once most entries are gone (a
  /// Dictionary keeps its capacity when emptied), and listing still works.
  func testDirectoryEntriesShrinkAfterMassRemoval() {
    var entries = DirectoryEntries()
    let inode = Inode(number: 99, type: .regular, permissions: 0o644, owner: me, now: .now())
    for i in 0..<5_000 { entries.insert(inode, named: FileName("f\(i)")) }
    XCTAssertGreaterThanOrEqual(entries.byName.capacity, 5_000)
    for i in 10..<5_000 { XCTAssertNotNil(entries.remove(FileName("f\(i)"))) }
    XCTAssertLessThanOrEqual(entries.byName.capacity, 64)
    XCTAssertEqual(entries.list(after: 0, limit: 100).map(\.name), (0..<10).map { FileName("f\($0)") })
  }

  func testLookupErrors() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    let file = try fs.lookup(in: .root, named: "f")
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in try fs.lookup(in: .root, named: "x") }
    assertErrno(.notDirectory) { () throws(Errno) in try fs.lookup(in: .init(rawValue: file.inode), named: "x") }
    assertErrno(.fileNameTooLong) { () throws(Errno) in
      try fs.lookup(in: .root, named: FileName(String(repeating: "n", count: 256)))
    }
    assertErrno(.staleNFSFileHandle) { () throws(Errno) in try fs.lookup(in: .init(rawValue: 999), named: "f") }
  }

  func testAnUnlinkedFileLivesUntilTheKernelForgetsIt() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    let created = try fs.create(in: .root, named: "a", .readWrite, permissions: [.ownerReadWrite], owner: me)
    try fs.write(created.descriptor, bytes: text(10_000))
    try fs.close(created.descriptor)
    try fs.unlink(in: .root, named: "a")
    let inode = ErmFS.InodeNumber(rawValue: created.status.inode)
    XCTAssertEqual(try fs.status(of: inode).linkCount, 0)
    XCTAssertGreaterThan(allocator.statistics.bytesLive, 0, "the kernel still holds it")
    let reopened = try fs.open(inode, .readOnly)
    XCTAssertEqual(try fs.read(reopened, upToCount: 5), Array(text(5)))
    fs.forget(inode, count: 1)
    XCTAssertGreaterThan(allocator.statistics.bytesLive, 0, "still open")
    try fs.close(reopened)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
    XCTAssertEqual(fs.statistics.storedBytes, 0)
  }

  func testCreateMakesAFileOwnedByTheCallerAndOpensIt() throws {
    let fs = try makeFS()
    let created = try fs.create(in: .root, named: "a", .writeOnly,
                                permissions: FilePermissions(rawValue: 0o640), owner: me)
    XCTAssertEqual(created.status.userID, 1000)
    XCTAssertEqual(created.status.groupID, 100)
    XCTAssertEqual(created.status.permissions.rawValue, 0o640)
    try fs.write(created.descriptor, bytes: [1])
    assertErrno(.fileExists) { () throws(Errno) in
      try fs.create(in: .root, named: "a", .readOnly, options: .exclusiveCreate, permissions: [], owner: me)
    }
    let again = try fs.create(in: .root, named: "a", .readOnly, permissions: [], owner: me)
    XCTAssertEqual(again.status.inode, created.status.inode, "an existing name is opened")
  }

  func testASetgidDirectoryPassesItsGroupOn() throws {
    let fs = try makeFS()
    let directory = try fs.makeDirectory(in: .root, named: "d",
                                         permissions: FilePermissions(rawValue: 0o2775), owner: me)
    XCTAssertEqual(directory.permissions.rawValue, 0o775, "mkdir drops setgid from the mode (Linux)")
    let inside = ErmFS.InodeNumber(rawValue: directory.inode)
    _ = try fs.setAttributes(of: inside, .init(permissions: FilePermissions(rawValue: 0o2775)))  // chmod g+s
    let file = try fs.makeNode(in: inside, named: "f", type: .regular, permissions: [.ownerReadWrite],
                               owner: Ownership(userID: 5, groupID: 5))
    let subdirectory = try fs.makeDirectory(in: inside, named: "s", permissions: [.ownerReadWriteExecute],
                                            owner: Ownership(userID: 5, groupID: 5))
    XCTAssertEqual(file.groupID, 100)
    XCTAssertEqual(subdirectory.groupID, 100)
    XCTAssertEqual(subdirectory.permissions.rawValue & 0o2000, 0o2000)
  }

  func testEntriesListDotsFirstThenCreationOrderWithCookies() throws {
    let fs = try makeFS()
    try fs.put("/b", [])
    try fs.put("/a", [])
    try fs.mkdir("/c")
    let all = try fs.entries(of: .root, after: 0, limit: 100)
    XCTAssertEqual(all.map(\.name), [".", "..", "b", "a", "c"])
    XCTAssertEqual(all.map(\.cookie), all.map(\.cookie).sorted(), "cookies grow along the listing")
    let rest = try fs.entries(of: .root, after: all[2].cookie, limit: 100)
    XCTAssertEqual(rest.map(\.name), ["a", "c"])
  }

  func testACookieStaysValidWhileTheDirectoryChanges() throws {
    let fs = try makeFS()
    for i in 0..<100 { try fs.put("/f\(i)", []) }
    var seen: [String] = []
    var cookie: UInt64 = 2
    var round = 0
    while true {
      let page = try fs.entries(of: .root, after: cookie, limit: 7)
      guard let last = page.last else { break }
      seen += page.map(\.name)
      cookie = last.cookie
      // Between pages: remove some names not yet listed, add new ones (a bounded number:
      // entries added during a listing come after it and are listed too).
      if round < 10 {
        try? fs.unlink("/f\(99 - round)")
        try fs.put("/new\(round)", [])
        round += 1
      }
    }
    let original = Set((0..<100).map { "f\($0)" })
    let removed = Set((0..<round).map { "f\(99 - $0)" })
    XCTAssertEqual(Set(seen.filter { $0.hasPrefix("f") }), original.subtracting(removed).union(
      removed.filter { seen.contains($0) }), "every name present throughout is listed")
    XCTAssertEqual(seen.count, Set(seen).count, "no name twice")
    for name in original.subtracting(removed) { XCTAssertTrue(seen.contains(name), name) }
    XCTAssertEqual(round, 10)
  }

  func testRenameExchangeSwapsAFileAndADirectory() throws {
    let fs = try makeFS()
    try fs.mkdir("/d")
    try fs.mkdir("/e")
    try fs.put("/e/f", [1])
    try fs.mkdir("/d/sub")
    let d = ErmFS.InodeNumber(rawValue: try fs.lookup(in: .root, named: "d").inode)
    let e = ErmFS.InodeNumber(rawValue: try fs.lookup(in: .root, named: "e").inode)
    try fs.rename(in: d, named: "sub", to: e, named: "f", flags: .exchange)
    XCTAssertEqual(try fs.stat("/d/sub").type, .regular)
    XCTAssertEqual(try fs.stat("/e/f").type, .directory)
    XCTAssertEqual(try fs.stat("/d").linkCount, 2, "the subdirectory moved out")
    XCTAssertEqual(try fs.stat("/e").linkCount, 3, "and into /e")
    XCTAssertEqual(try fs.stat("/e/f/..").inode, try fs.stat("/e").inode)
  }

  func testRenameNoReplaceRefusesAnExistingName() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.put("/b", [2])
    assertErrno(.fileExists) { () throws(Errno) in try fs.rename("/a", to: "/b", flags: .noReplace) }
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.rename("/a", to: "/b", flags: [.noReplace, .exchange]) }
    try fs.rename("/a", to: "/c", flags: .noReplace)
    XCTAssertEqual(try fs.get("/c"), [1])
  }

  func testRenameOverAnOpenFileKeepsItsDataUntilClose() throws {
    let fs = try makeFS()
    try fs.put("/a", [1])
    try fs.put("/b", text(9000))
    let fd = try fs.open("/b", .readOnly)
    try fs.rename("/a", to: "/b")
    XCTAssertEqual(try fs.fstat(fd).linkCount, 0)
    assertSameBytes(try fs.read(fd, upToCount: 9000), text(9000))
    try fs.close(fd)
    XCTAssertEqual(fs.statistics.logicalBytes, 1)
  }

  func testSetAttributesChangesSizeModeOwnerAndTimes() throws {
    let fs = try makeFS()
    try fs.put("/a", text(5000))
    let inode = ErmFS.InodeNumber(rawValue: try fs.lookup(in: .root, named: "a").inode)
    let status = try fs.setAttributes(of: inode, .init(
      permissions: FilePermissions(rawValue: 0o600), userID: 7, groupID: 8, size: 10,
      accessTime: .set(.init(seconds: 5, nanoseconds: 6)), modificationTime: .set(.init(seconds: 7))))
    XCTAssertEqual(status.size, 10)
    XCTAssertEqual(status.permissions.rawValue, 0o600)
    XCTAssertEqual(status.userID, 7)
    XCTAssertEqual(status.groupID, 8)
    XCTAssertEqual(status.accessTime, .init(seconds: 5, nanoseconds: 6))
    XCTAssertEqual(status.modificationTime, .init(seconds: 7))
    XCTAssertEqual(try fs.get("/a"), Array(text(10)))
    try fs.mkdir("/d")
    let directory = ErmFS.InodeNumber(rawValue: try fs.lookup(in: .root, named: "d").inode)
    assertErrno(.isDirectory) { () throws(Errno) in try fs.setAttributes(of: directory, .init(size: 0)) }
  }

  func testOpeningADirectoryForWritingByInodeIsEISDIR() throws {
    let fs = try makeFS()
    assertErrno(.isDirectory) { () throws(Errno) in try fs.open(.root, .readWrite) }
    let fd = try fs.open(.root, .readOnly)
    try fs.close(fd)
  }

  func testReadLinkByInode() throws {
    let fs = try makeFS()
    let link = try fs.makeSymbolicLink(in: .root, named: "l", target: Array("a/b".utf8), owner: me)
    XCTAssertEqual(try fs.readLink(.init(rawValue: link.inode)), Array("a/b".utf8))
    XCTAssertEqual(link.size, 3)
    XCTAssertEqual(link.type, .symbolicLink)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.readLink(.root) }
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.makeSymbolicLink(in: .root, named: "m", target: [], owner: me)
    }
  }

  func testHardLinkByInodeAndItsLinkCount() throws {
    let fs = try makeFS()
    try fs.put("/a", [1, 2])
    let a = try fs.lookup(in: .root, named: "a")
    let linked = try fs.link(.init(rawValue: a.inode), in: .root, named: "b")
    XCTAssertEqual(linked.linkCount, 2)
    XCTAssertEqual(try fs.get("/b"), [1, 2])
    try fs.unlink(in: .root, named: "a")
    XCTAssertEqual(try fs.stat("/b").linkCount, 1)
    try fs.mkdir("/d")
    let d = try fs.lookup(in: .root, named: "d")
    assertErrno(.notPermitted) { () throws(Errno) in try fs.link(.init(rawValue: d.inode), in: .root, named: "x") }
  }

  func testNamesWithASlashOrEmptyAreEINVALByInode() throws {
    let fs = try makeFS()
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.makeDirectory(in: .root, named: "a/b", permissions: [], owner: me)
    }
    assertErrno(.invalidArgument) { () throws(Errno) in
      try fs.makeDirectory(in: .root, named: FileName(bytes: []), permissions: [], owner: me)
    }
    assertErrno(.fileExists) { () throws(Errno) in try fs.makeDirectory(in: .root, named: "..", permissions: [], owner: me) }
  }

  func testNamesAreBytesNotText() throws {
    let fs = try makeFS()
    let latin1 = FileName(bytes: [0x63, 0x61, 0x66, 0xE9])  // "café" in Latin-1: not UTF-8
    _ = try fs.makeNode(in: .root, named: latin1, type: .regular, permissions: [.ownerReadWrite], owner: me)
    let listed = try fs.entries(of: .root, after: 2, limit: 10)
    XCTAssertEqual(listed.map(\.fileName), [latin1])
    XCTAssertEqual(try fs.lookup(in: .root, named: latin1).type, .regular)
  }

  func testCreateInARemovedDirectoryIsENOENT() throws {
    let fs = try makeFS()
    let directory = try fs.makeDirectory(in: .root, named: "d", permissions: [.ownerReadWriteExecute], owner: me)
    try fs.removeDirectory(in: .root, named: "d")
    assertErrno(.noSuchFileOrDirectory) { () throws(Errno) in
      try fs.create(in: .init(rawValue: directory.inode), named: "f", .writeOnly, permissions: [], owner: me)
    }
    XCTAssertEqual(try fs.entries(of: .init(rawValue: directory.inode), after: 2, limit: 10).count, 0)
  }

  func testForgettingAllLookupsAfterCreatesAndDeletesLeavesNothing() throws {
    let allocator = PageAllocator()
    let fs = try makeFS(allocator: allocator)
    for i in 0..<500 {
      let created = try fs.create(in: .root, named: FileName("f\(i)"), .writeOnly, permissions: [], owner: me)
      try fs.write(created.descriptor, bytes: text(100 + i))
      try fs.close(created.descriptor)
      let looked = try fs.lookup(in: .root, named: FileName("f\(i)"))
      try fs.unlink(in: .root, named: FileName("f\(i)"))
      fs.forget(.init(rawValue: looked.inode), count: 2)
    }
    XCTAssertEqual(fs.rememberedInodeCount, 1)
    XCTAssertEqual(fs.statistics.files, 0)
    XCTAssertEqual(fs.statistics.storedBytes, 0)
    XCTAssertEqual(allocator.statistics.bytesLive, 0)
  }
}
