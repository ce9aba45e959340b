import Foundation
import SystemPackage
import XCTest

@testable import ErmCore

/// `Configuration.locking` and `setLocklessMode`: the tree crosses from one backend to
/// the other whole; the switch waits for calls in flight and refuses while descriptors or
/// kernel lookups are held.
final class LockingModeTests: XCTestCase {
  private func buildTree(_ fs: ErmFS) throws {
    try fs.mkdir("/a")
    try fs.mkdir("/a/b")
    try fs.put("/a/b/text", text(3 * testChunkSize))
    try fs.put("/a/empty", [])
    try fs.symlink("b/text", at: "/a/link")
    try fs.link("/a/b/text", to: "/hard")
    try fs.mknod("/fifo", type: .fifo, permissions: [.ownerReadWrite])
    try fs.setExtendedAttribute("user.k", [1, 2], at: "/a/b/text")
    for i in 0..<20 { try fs.put("/a/n\(i)", [UInt8(i)]) }
    for i in stride(from: 0, to: 20, by: 3) { try fs.unlink("/a/n\(i)") }
  }

  private struct Picture: Equatable {
    var listings: [String: [String]] = [:]
    var statuses: [String: ErmFS.FileStatus] = [:]
    var contents: [String: [UInt8]] = [:]
    var rootEntries: [String] = []
    var counts: [Int] = []
  }

  private func picture(_ fs: ErmFS) throws -> Picture {
    var picture = Picture()
    // Listings in cookie order, through the inode API (lookups given back before a switch).
    picture.listings["/"] = try fs.entries(of: .root, after: 0, limit: 100).map(\.name)
    let a = try fs.lookup(in: .root, named: "a")
    let b = try fs.lookup(in: .init(rawValue: a.inode), named: "b")
    picture.listings["/a"] = try fs.entries(of: .init(rawValue: a.inode), after: 0, limit: 100).map(\.name)
    picture.listings["/a/b"] = try fs.entries(of: .init(rawValue: b.inode), after: 0, limit: 100).map(\.name)
    fs.forget(.init(rawValue: b.inode), count: 1)
    fs.forget(.init(rawValue: a.inode), count: 1)
    for path in ["/a", "/a/b", "/a/b/text", "/a/empty", "/a/link", "/hard", "/fifo", "/a/n1"] {
      picture.statuses[path] = try fs.lstat(path)
    }
    for path in ["/a/b/text", "/hard", "/a/link", "/a/n1"] { picture.contents[path] = try fs.get(path) }
    picture.contents["xattr"] = try fs.extendedAttribute("user.k", at: "/a/b/text")
    let statistics = fs.statistics
    picture.counts = [statistics.files, statistics.directories, statistics.logicalBytes, statistics.storedBytes]
    return picture
  }

  /// The package trait `Lockless` makes the lock-free mode the default (the sanitizer run
  /// builds with it and says so in ERMCORE_EXPECT_DEFAULT_LOCKING).
  func testTheDefaultModeFollowsTheBuild() throws {
    let fs = try ErmFS()
    XCTAssertEqual(fs.locking, ErmFS.Locking.default)
    switch ProcessInfo.processInfo.environment["ERMCORE_EXPECT_DEFAULT_LOCKING"] {
    case "lockless"?: XCTAssertEqual(ErmFS.Locking.default, .lockless)
    case "locked"?: XCTAssertEqual(ErmFS.Locking.default, .locked)
    default: break
    }
  }

  func testSwitchingCarriesTheWholeTreeOverAndBack() throws {
    for start in [ErmFS.Locking.locked, .lockless] {
      let fs = try makeFS(locking: start)
      XCTAssertEqual(fs.locking, start)
      try buildTree(fs)
      let before = try picture(fs)
      try fs.setLocklessMode(start == .locked)
      XCTAssertEqual(fs.locking, start == .locked ? .lockless : .locked)
      let after = try picture(fs)
      XCTAssertEqual(after.listings, before.listings, "listings keep their order")
      XCTAssertEqual(after.statuses.mapValues { $0.inode }, before.statuses.mapValues { $0.inode })
      XCTAssertEqual(after.statuses.mapValues { $0.linkCount }, before.statuses.mapValues { $0.linkCount })
      XCTAssertEqual(after.statuses.mapValues { $0.size }, before.statuses.mapValues { $0.size })
      XCTAssertEqual(after.contents, before.contents)
      XCTAssertEqual(after.counts, before.counts, "files, directories, logical and stored bytes")
      // The new backend works on its own: changes, new numbers, cookies after the old ones.
      try fs.put("/a/new", [9])
      XCTAssertGreaterThan(try fs.stat("/a/new").inode, try fs.stat("/a/n19").inode)
      let a = try fs.lookup(in: .root, named: "a")
      XCTAssertEqual(try fs.entries(of: .init(rawValue: a.inode), after: 0, limit: 100).last?.name, "new")
      fs.forget(.init(rawValue: a.inode), count: 1)
      try fs.rename("/a/b", to: "/b")
      XCTAssertEqual(try fs.get("/b/text"), text(3 * testChunkSize))
      try fs.setLocklessMode(start == .lockless)
      XCTAssertEqual(fs.locking, start)
      XCTAssertEqual(try fs.get("/hard"), text(3 * testChunkSize))
      XCTAssertEqual(try fs.readdir("/b").map(\.name), ["text"])
      try fs.setLocklessMode(start == .lockless)  // already: nothing to do
    }
  }

  func testSwitchingIsEBUSYWhileADescriptorIsOpen() throws {
    let fs = try makeFS(locking: .locked)
    try fs.put("/f", [1])
    let fd = try fs.open("/f", .readOnly)
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.setLocklessMode(true) }
    XCTAssertEqual(fs.locking, .locked)
    XCTAssertEqual(try fs.read(fd, upToCount: 5), [1], "the refused switch left everything working")
    try fs.close(fd)
    try fs.setLocklessMode(true)
    XCTAssertEqual(fs.locking, .lockless)
    let again = try fs.open("/f", .readOnly)
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.setLocklessMode(false) }
    try fs.close(again)
    try fs.setLocklessMode(false)
  }

  func testSwitchingIsEBUSYWhileTheKernelHoldsALookup() throws {
    let fs = try makeFS(locking: .lockless)
    try fs.mkdir("/d")
    let entry = try fs.lookup(in: .root, named: "d")
    assertErrno(.resourceBusy) { () throws(Errno) in try fs.setLocklessMode(false) }
    fs.forget(.init(rawValue: entry.inode), count: 1)
    try fs.setLocklessMode(false)
    XCTAssertEqual(fs.locking, .locked)
  }

  func testTheLocklessModeRefusesALimitItCannotAllocate() throws {
    XCTAssertThrowsError(try makeFS(maxDescriptors: Int(Int32.max), locking: .lockless))
    let fs = try makeFS(maxDescriptors: Int(Int32.max), locking: .locked)
    assertErrno(.invalidArgument) { () throws(Errno) in try fs.setLocklessMode(true) }
  }

  /// Calls keep running while the mode flips back and forth under them: each waits for
  /// a switch in progress and runs on the new backend; nothing is lost.
  func testCallsInFlightDuringSwitchesAllSucceed() throws {
    let fs = try makeFS()
    for thread in 1..<4 { try fs.mkdir("/t\(thread)") }
    let stop = Flag(), failures = EventCount(), switches = EventCount(2)
    let rounds = scaled(300)
    runThreads(4) { thread in
      if thread == 0 {
        for round in 0..<rounds {
          switch errnoOf({ () throws(Errno) in try fs.setLocklessMode(round % 2 == 0) }) {
          case nil: switches.add(0)
          case .resourceBusy?: switches.add(1)
          default: failures.add()
          }
        }
        stop.set()
        return
      }
      var count = 0
      while !stop.isSet {
        count += 1
        let path = "/t\(thread)/f\(count % 4)"
        do throws(Errno) {
          try fs.mknod(path, type: .regular, permissions: [.ownerReadWrite])
          guard try fs.stat(path).type == .regular else { throw Errno.ioError }
          try fs.rename(path, to: path + "x")
          guard try fs.readdir("/t\(thread)").contains(where: { $0.name == "f\(count % 4)x" }) else {
            throw Errno.ioError
          }
          if count % 8 == 0 {
            let fd = try fs.open(path + "x", .readOnly)  // makes some switches EBUSY
            try fs.close(fd)
          }
          try fs.unlink(path + "x")
        } catch {
          failures.add()
        }
      }
    }
    XCTAssertEqual(failures.value, 0)
    XCTAssertGreaterThan(switches[0], 0, "some switches happened while calls ran")
    XCTAssertEqual(fs.statistics.files, 0)
    XCTAssertEqual(fs.statistics.directories, 3)
  }
}
