import Synchronization
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

  /// Timestamps are read without a lock (a sequence lock per timestamp): a stat racing
  /// utimens must see the seconds and nanoseconds of one store, never a mix. Every value
  /// written ties its nanoseconds to its seconds, and seconds span past 2^32 and below 0.
  func testStatRacingUtimensNeverSeesATornTimestamp() throws {
    let fs = try makeFS()
    try fs.put("/f", [1])
    @Sendable func value(_ k: Int64) -> ErmFS.Timestamp {
      let seconds = (k % 2 == 0 ? 1 : -1) * (k &* 2_654_435_761 % 20_000_000_000)
      return ErmFS.Timestamp(seconds: seconds, nanoseconds: abs(seconds) % 999_999_937)
    }
    // Readers may stat before the first write: start from a value that keeps the rule
    // (the creation time does not).
    try fs.utimens("/f", access: .set(value(0)), modification: .set(value(0)))
    let writers = 2, perWriter = 20_000
    let done = Atomic<Int>(0)
    let checked = Atomic<Int>(0)
    onThreads(4) { thread in
      if thread < writers {
        for i in 0..<perWriter {
          let k = Int64(thread * perWriter + i)
          try fs.utimens("/f", access: .set(value(k)), modification: .set(value(k + 1)))
        }
        done.add(1, ordering: .releasing)
      } else {
        repeat {
          let status = try fs.stat("/f")
          for time in [status.accessTime, status.modificationTime] {
            guard time.nanoseconds == abs(time.seconds) % 999_999_937 else { throw TornTimestamp(time: time) }
          }
          checked.add(1, ordering: .relaxed)
        } while done.load(ordering: .acquiring) < writers
      }
    }
    XCTAssertGreaterThan(checked.load(ordering: .relaxed), 0)
  }
}

struct TornTimestamp: Error, CustomStringConvertible {
  let time: ErmFS.Timestamp
  var description: String { "torn timestamp \(time)" }
}
